"""Random but realistic tables: the kinds of files an analyst opens in the first hour of a project.

A domain is a list of column specs (what the column means, how its values are drawn); a table is a random
subset of a domain's columns, named by `names.py` (domain words, synonyms, abbreviations, affixes, invented words,
in one of several casing styles; sometimes a wholly invented domain), with a random size and, often, missing values. The `Table` keeps what the request writer and the checkers need to know about each
column (its meaning in words, its exact name, its kind), so a request can say "unit price" while the code
says ``df["UnitPrice"]``.

The domains here are the generator's world. The held-out evaluation set (benchmarks/heldout) uses other domains,
written by hand: keep the two apart (tests/test_synth.py checks that no held-out table's columns are a domain here).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import names as N

# --- value pools ------------------------------------------------------------------------------------------

FIRST = ("Ana Ben Chloe Dev Eli Fatima Gus Hana Ivan Jun Kofi Lena Marco Nia Omar Priya Quinn Rosa Sam Tariq "
         "Uma Victor Wen Xavi Yara Zoe Ahmed Bea Carlos Dana Emil Freya Goran Ines Jonas Kira Luis Mei Nils "
         "Olga Pavel Rhea Sven Tomas Ulla Vera").split()
LAST = ("Smith Khan Garcia Chen Novak Okafor Silva Muller Rossi Tanaka Haddad Kowalski Larsen Dubois Patel "
        "Moreau Ivanova Costa Nguyen Berg Lopez Fischer Sato Ali Brown Jensen Weber Romero Kim Horvat").split()


def _names(rng: np.random.Generator, n: int) -> list[str]:
    return [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(n)]


# --- column specs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    key: str
    kind: str
    """id, cat, num, int, date, bool, text, expr."""
    words: tuple[str, ...]
    """Alternative names in words ("unit price", "price"); one is picked per table."""
    gen: tuple = ()
    """Kind-specific parameters (see `_draw`)."""
    unit: str = ""


def C(key, kind, words, *gen, unit=""):
    if isinstance(words, str):
        words = tuple(w.strip() for w in words.split("|"))
    return Spec(key, kind, words, tuple(gen), unit)


@dataclass(frozen=True)
class Lookup:
    """A second table keyed on one of the domain's categorical columns, for joins."""

    stem: str
    key: str
    extra: tuple[Spec, ...]


@dataclass(frozen=True)
class Domain:
    name: str
    stems: tuple[str, ...]
    """File names (without .csv)."""
    varnames: tuple[str, ...]
    specs: tuple[Spec, ...]
    lookup: Lookup | None = None
    rows: str = "rows"
    """What one row is, in words ("flights", "orders")."""


def _d(name, stems, varnames, rows, specs, lookup=None) -> Domain:
    return Domain(name, tuple(stems.split()), tuple(varnames.split()), tuple(specs), lookup, rows)


CITIES = ["Lisbon", "Oslo", "Denver", "Austin", "Leeds", "Porto", "Lyon", "Krakow", "Osaka", "Perth", "Quito", "Tunis"]
REGIONS = ["North", "South", "East", "West", "Central"]

DOMAINS: tuple[Domain, ...] = (
    _d("sales", "sales sales_2023 transactions store_sales", "df sales data tx", "sales", [
        C("order_id", "id", "order id|transaction id", 1000),
        C("date", "date", "date|order date|sale date", 2021, 3, False),
        C("region", "cat", "region", REGIONS),
        C("store", "cat", "store|shop", [f"S{i:02d}" for i in range(1, 13)]),
        C("product", "cat", "product|item", ["Laptop", "Monitor", "Mouse", "Keyboard", "Dock", "Headset", "Webcam", "Cable"]),
        C("category", "cat", "category|product category", ["Electronics", "Accessories", "Office", "Audio"]),
        C("units", "int", "units|quantity|qty", "poisson", 4, 1),
        C("unit_price", "num", "unit price|price", "lognormal", 4.0, 0.8, 2, unit="$"),
        C("revenue", "expr", "revenue|sales amount|total", "units*unit_price", 2),
        C("discount", "num", "discount", "uniform", 0, 0.3, 2),
        C("returned", "bool", "returned|is returned", 0.08),
        C("channel", "cat", "channel|sales channel", ["online", "retail", "partner"]),
    ], Lookup("regions", "region", (C("manager", "text", "manager"), C("target", "num", "target|sales target", "uniform", 5e4, 2e5, 0)))),
    _d("orders", "orders ecommerce_orders shop_orders", "df orders data", "orders", [
        C("order_id", "id", "order id", 50000),
        C("customer_id", "int", "customer id|customer", "uniform", 1, 400),
        C("order_date", "date", "order date|date|purchase date", 2022, 2, True),
        C("country", "cat", "country", ["US", "UK", "DE", "FR", "ES", "IT", "NL", "PL", "SE", "CA"]),
        C("payment", "cat", "payment method|payment", ["card", "paypal", "bank transfer", "voucher"]),
        C("items", "int", "items|number of items|item count", "poisson", 2, 1),
        C("amount", "num", "amount|order value|total", "lognormal", 3.8, 0.9, 2),
        C("shipping", "num", "shipping cost|shipping", "uniform", 0, 15, 2),
        C("status", "cat", "status|order status", ["delivered", "shipped", "cancelled", "returned", "pending"]),
        C("first_order", "bool", "first order|is first order", 0.3),
        C("rating", "int", "rating|review score", "uniform", 1, 5),
    ], Lookup("countries", "country", (C("continent", "cat", "continent", ["Europe", "America"]), C("vat", "num", "vat rate|vat", "uniform", 0.05, 0.25, 2)))),
    _d("patients", "patients admissions clinic_visits", "df patients data visits", "patients", [
        C("patient_id", "id", "patient id|id", 1),
        C("age", "int", "age", "normal", 48, 18, 0, 99),
        C("sex", "cat", "sex|gender", ["F", "M"]),
        C("admitted", "date", "admission date|admitted|visit date", 2020, 4, False),
        C("ward", "cat", "ward|department", ["Cardiology", "Oncology", "Pediatrics", "Surgery", "Neurology", "ICU"]),
        C("bmi", "num", "bmi|body mass index", "normal", 26, 4.5, 1),
        C("systolic", "int", "systolic bp|systolic|blood pressure", "normal", 128, 17, 80, 210),
        C("cholesterol", "num", "cholesterol", "normal", 195, 38, 0),
        C("los", "int", "length of stay|stay days|days in hospital", "poisson", 4, 0),
        C("smoker", "bool", "smoker|is smoker", 0.22),
        C("readmitted", "bool", "readmitted", 0.12),
        C("insurance", "cat", "insurance|insurance type", ["public", "private", "none"]),
    ], Lookup("wards", "ward", (C("floor", "int", "floor|level", "uniform", 1, 6), C("head_nurse", "text", "head nurse|nurse in charge")))),
    _d("sensors", "sensor_readings readings iot_data telemetry", "df readings data sensors", "readings", [
        C("timestamp", "date", "timestamp|time|reading time", 2023, 1, True),
        C("sensor", "cat", "sensor|sensor id|device", [f"T{i}" for i in range(1, 9)]),
        C("site", "cat", "site|location|building", ["A", "B", "C", "D"]),
        C("temperature", "num", "temperature|temp", "normal", 21.5, 3.2, 2, unit="C"),
        C("humidity", "num", "humidity|relative humidity", "uniform", 25, 80, 1),
        C("pressure", "num", "pressure", "normal", 1013, 7, 1),
        C("battery", "num", "battery|battery level", "uniform", 5, 100, 0),
        C("co2", "int", "co2|co2 ppm", "normal", 620, 160, 350, 2500),
        C("alarm", "bool", "alarm|alert", 0.05),
        C("status", "cat", "status", ["ok", "warn", "fault"]),
    ]),
    _d("flights", "flights flight_data departures", "df flights data fl", "flights", [
        C("flight_id", "id", "flight id", 1),
        C("dep_date", "date", "departure date|flight date|date", 2022, 2, False),
        C("carrier", "cat", "carrier|airline", ["AA", "DL", "UA", "WN", "B6", "AS", "NK"]),
        C("origin", "cat", "origin|from airport|origin airport", ["JFK", "LAX", "ORD", "ATL", "DFW", "SEA", "BOS", "SFO"]),
        C("dest", "cat", "destination|dest|to airport", ["MIA", "DEN", "PHX", "LAS", "MSP", "DTW", "IAH"]),
        C("distance", "int", "distance|miles", "uniform", 180, 2800),
        C("dep_delay", "num", "departure delay|dep delay|delay", "normal", 9, 28, 0),
        C("arr_delay", "num", "arrival delay|arr delay", "normal", 5, 31, 0),
        C("passengers", "int", "passengers|pax", "uniform", 40, 220),
        C("cancelled", "bool", "cancelled|is cancelled", 0.03),
        C("air_time", "num", "air time|flight time|duration", "uniform", 35, 380, 0),
    ], Lookup("airlines", "carrier", (C("airline_name", "text", "airline name|name"), C("fleet_size", "int", "fleet size|fleet", "uniform", 80, 900)))),
    _d("employees", "employees staff hr_data headcount", "df employees emp staff data", "employees", [
        C("emp_id", "id", "employee id|emp id|id", 100),
        C("name", "text", "name|employee name|full name"),
        C("department", "cat", "department|dept|team", ["Sales", "Engineering", "Finance", "HR", "Marketing", "Support", "Legal"]),
        C("title", "cat", "job title|title|role", ["Analyst", "Engineer", "Manager", "Associate", "Director", "Specialist"]),
        C("hire_date", "date", "hire date|start date|hired", 2010, 14, False),
        C("salary", "num", "salary|annual salary|pay", "lognormal", 11.1, 0.35, 0),
        C("age", "int", "age", "normal", 39, 10, 20, 67),
        C("office", "cat", "office|location|city", CITIES[:6]),
        C("remote", "bool", "remote|is remote|works remotely", 0.35),
        C("rating", "num", "performance rating|rating|score", "uniform", 1, 5, 1),
        C("overtime", "num", "overtime hours|overtime", "lognormal", 1.5, 0.9, 1),
    ], Lookup("departments", "department", (C("head", "text", "head|department head"), C("budget", "num", "budget", "uniform", 2e5, 3e6, 0)))),
    _d("students", "students grades exam_results class_scores", "df students grades data scores", "students", [
        C("student_id", "id", "student id|id", 1),
        C("name", "text", "name|student name|student"),
        C("school", "cat", "school", ["Northside", "Hillcrest", "Riverside", "Oakwood"]),
        C("grade", "int", "grade|year|class year", "uniform", 9, 12),
        C("gender", "cat", "gender|sex", ["F", "M"]),
        C("math", "num", "math score|math|maths", "normal", 68, 14, 0, 0, 100),
        C("reading", "num", "reading score|reading", "normal", 71, 12, 0, 0, 100),
        C("science", "num", "science score|science", "normal", 66, 15, 0, 0, 100),
        C("absences", "int", "absences|days absent", "poisson", 5, 0),
        C("lunch", "cat", "lunch|lunch type", ["standard", "free/reduced"]),
        C("passed", "bool", "passed|pass", 0.8),
        C("exam_date", "date", "exam date|date", 2021, 3, False),
    ], Lookup("schools", "school", (C("district", "cat", "district", ["D1", "D2", "D3"]), C("principal", "text", "principal")))),
    _d("housing", "housing house_prices listings homes", "df houses homes data listings", "houses", [
        C("listing_id", "id", "listing id|id", 1),
        C("city", "cat", "city|town", CITIES[:8]),
        C("neighborhood", "cat", "neighborhood|area|district", ["Old Town", "Riverside", "Uptown", "Harbor", "Green Hill", "Midtown"]),
        C("price", "num", "price|sale price|asking price", "lognormal", 12.6, 0.45, -3),
        C("sqft", "int", "square feet|sqft|living area", "normal", 1650, 520, 350, 6000),
        C("bedrooms", "int", "bedrooms|beds", "uniform", 1, 6),
        C("bathrooms", "int", "bathrooms|baths", "uniform", 1, 4),
        C("year_built", "int", "year built|built", "uniform", 1920, 2022),
        C("listed", "date", "listing date|listed|date listed", 2019, 5, False),
        C("has_garage", "bool", "garage|has garage", 0.55),
        C("type", "cat", "property type|type", ["house", "condo", "townhouse", "duplex"]),
        C("days_on_market", "int", "days on market|dom", "poisson", 30, 0),
    ], Lookup("cities", "city", (C("population", "int", "population", "lognormal", 12.5, 0.8), C("country", "cat", "country", ["PT", "NO", "US", "UK", "FR", "PL"])))),
    _d("weblogs", "web_logs access_log traffic sessions", "df logs data sessions hits", "requests", [
        C("time", "date", "timestamp|time|request time", 2024, 1, True),
        C("ip", "cat", "ip|client ip", [f"10.0.{i}.{j}" for i in range(3) for j in (4, 17, 88)]),
        C("method", "cat", "method|http method", ["GET", "POST", "PUT", "DELETE"]),
        C("path", "cat", "path|url|endpoint", ["/", "/login", "/cart", "/search", "/api/items", "/checkout", "/help"]),
        C("status", "int", "status|status code", "choice", [200, 200, 200, 200, 301, 404, 500]),
        C("bytes", "int", "bytes|response size|size", "lognormal", 8.2, 1.1),
        C("latency_ms", "num", "latency|response time|latency ms", "lognormal", 4.4, 0.7, 1),
        C("browser", "cat", "browser|user agent", ["Chrome", "Firefox", "Safari", "Edge", "bot"]),
        C("country", "cat", "country", ["US", "DE", "IN", "BR", "FR", "JP"]),
        C("logged_in", "bool", "logged in|is logged in", 0.4),
    ]),
    _d("weather", "weather daily_weather climate stations", "df weather data wx", "days", [
        C("date", "date", "date|day", 2018, 6, False),
        C("station", "cat", "station|city|location", CITIES[4:10]),
        C("tmax", "num", "max temperature|tmax|high", "normal", 18, 8, 1),
        C("tmin", "num", "min temperature|tmin|low", "normal", 8, 6, 1),
        C("precip", "num", "precipitation|rain|rainfall", "lognormal", 0.5, 1.2, 1),
        C("wind", "num", "wind speed|wind", "lognormal", 2.3, 0.45, 1),
        C("humidity", "int", "humidity", "uniform", 30, 100),
        C("conditions", "cat", "conditions|sky|weather", ["sunny", "cloudy", "rain", "snow", "fog"]),
        C("storm", "bool", "storm|storm warning", 0.04),
    ], Lookup("station_info", "station", (C("elevation_m", "int", "elevation|elevation m|altitude", "uniform", 0, 1800), C("climate_zone", "cat", "climate zone|zone", ["oceanic", "continental", "arid"])))),
    _d("taxi", "taxi_trips trips rides", "df trips rides data", "trips", [
        C("trip_id", "id", "trip id|ride id", 1),
        C("pickup", "date", "pickup time|pickup|start time", 2023, 1, True),
        C("borough", "cat", "borough|pickup zone|zone", ["Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island"]),
        C("passengers", "int", "passengers|passenger count", "uniform", 1, 4),
        C("distance", "num", "distance|trip distance|miles", "lognormal", 0.9, 0.7, 2),
        C("fare", "num", "fare|fare amount", "lognormal", 2.7, 0.5, 2),
        C("tip", "num", "tip|tip amount", "lognormal", 0.8, 0.8, 2),
        C("payment", "cat", "payment type|payment", ["card", "cash", "app"]),
        C("duration_min", "num", "duration|trip minutes|duration min", "lognormal", 2.6, 0.5, 1),
        C("airport", "bool", "airport trip|airport", 0.1),
    ]),
    _d("bikes", "bike_rentals rentals bikeshare", "df rentals bikes data", "rentals", [
        C("rental_id", "id", "rental id|id", 1),
        C("start", "date", "start time|start|rented at", 2022, 1, True),
        C("station", "cat", "station|start station", ["Park Ave", "Main St", "Harbor", "University", "Museum", "Central"]),
        C("bike_type", "cat", "bike type|type", ["classic", "electric", "cargo"]),
        C("minutes", "num", "minutes|ride length|duration", "lognormal", 2.8, 0.6, 1),
        C("km", "num", "distance km|km|distance", "lognormal", 1.0, 0.6, 2),
        C("member", "bool", "member|is member", 0.6),
        C("user_age", "int", "user age|age|rider age", "normal", 34, 11, 16, 80),
        C("price", "num", "price|cost|charge", "uniform", 1, 12, 2),
    ]),
    _d("tickets", "support_tickets tickets helpdesk", "df tickets data issues", "tickets", [
        C("ticket_id", "id", "ticket id|id", 1),
        C("opened", "date", "opened|created|open date", 2023, 2, True),
        C("priority", "cat", "priority", ["low", "medium", "high", "urgent"]),
        C("channel", "cat", "channel|source", ["email", "phone", "chat", "web"]),
        C("agent", "cat", "agent|assignee", ["Ana", "Ben", "Chloe", "Dev", "Eli", "Fatima"]),
        C("product", "cat", "product|area", ["billing", "login", "mobile app", "api", "reports"]),
        C("hours_to_resolve", "num", "hours to resolve|resolution hours|resolution time", "lognormal", 2.5, 1.0, 1),
        C("satisfaction", "int", "satisfaction|csat|rating", "uniform", 1, 5),
        C("reopened", "bool", "reopened|was reopened", 0.09),
        C("replies", "int", "replies|number of replies", "poisson", 3, 1),
    ], Lookup("agents", "agent", (C("team", "cat", "team|tier", ["tier 1", "tier 2", "billing"]), C("seniority", "int", "seniority years|years of experience", "uniform", 0, 12)))),
    _d("energy", "energy_use meter_readings power electricity", "df energy usage data meters", "readings", [
        C("date", "date", "date|reading date|day", 2021, 3, False),
        C("meter", "cat", "meter|meter id", [f"M-{i}" for i in range(101, 111)]),
        C("building", "cat", "building|site", ["HQ", "Lab", "Depot", "Store 1", "Store 2"]),
        C("kwh", "num", "kwh|consumption|energy kwh", "lognormal", 5.5, 0.5, 1),
        C("peak_kw", "num", "peak kw|peak load|peak", "lognormal", 3.3, 0.4, 1),
        C("outdoor_temp", "num", "outdoor temp|outside temperature|temperature", "normal", 12, 9, 1),
        C("cost", "num", "cost|bill", "lognormal", 4.7, 0.5, 2),
        C("tariff", "cat", "tariff|rate plan", ["flat", "time-of-use", "green"]),
        C("solar", "bool", "solar|has solar", 0.25),
    ]),
    _d("restaurant", "restaurant_orders tips bills restaurant", "df orders bills data tips", "bills", [
        C("bill_id", "id", "bill id|check id", 1),
        C("time", "date", "time|order time|date", 2023, 1, True),
        C("day", "cat", "day|weekday", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
        C("meal", "cat", "meal|service", ["breakfast", "lunch", "dinner"]),
        C("party_size", "int", "party size|size|guests", "poisson", 2.5, 1),
        C("total_bill", "num", "total bill|bill|check total", "lognormal", 3.3, 0.45, 2),
        C("tip", "num", "tip", "lognormal", 1.2, 0.45, 2),
        C("server", "cat", "server|waiter", ["Ivan", "Jun", "Kofi", "Lena", "Marco"]),
        C("smoking", "bool", "smoking|smoker", 0.2),
        C("table_no", "int", "table|table number", "uniform", 1, 30),
    ]),
    _d("movies", "movies films ratings box_office", "df movies films data", "movies", [
        C("title", "text", "title|movie|film"),
        C("genre", "cat", "genre", ["Drama", "Comedy", "Action", "Horror", "Sci-Fi", "Documentary", "Animation"]),
        C("year", "int", "year|release year", "uniform", 1980, 2024),
        C("runtime", "int", "runtime|length|minutes", "normal", 108, 20, 70, 210),
        C("budget_musd", "num", "budget|budget musd|budget millions", "lognormal", 3.0, 1.0, 1),
        C("gross_musd", "num", "gross|box office|gross musd", "lognormal", 3.6, 1.3, 1),
        C("rating", "num", "rating|score|imdb rating", "normal", 6.4, 1.1, 1, 1, 10),
        C("votes", "int", "votes|number of votes", "lognormal", 9, 1.6),
        C("studio", "cat", "studio", ["Northlight", "Bluebird", "Orbit", "Ironwood", "Paper Moon"]),
        C("released", "date", "release date|released", 2000, 20, False),
        C("sequel", "bool", "sequel|is sequel", 0.15),
    ]),
    _d("loans", "loans loan_applications credit", "df loans apps data", "loans", [
        C("loan_id", "id", "loan id|application id|id", 5000),
        C("applied", "date", "application date|applied|date", 2020, 4, False),
        C("purpose", "cat", "purpose|loan purpose", ["car", "home", "education", "business", "debt consolidation"]),
        C("amount", "num", "loan amount|amount|principal", "lognormal", 9.3, 0.7, -2),
        C("rate", "num", "interest rate|rate|apr", "normal", 7.5, 2.2, 2, 1, 30),
        C("term", "int", "term|term months", "choice", [12, 24, 36, 48, 60]),
        C("income", "num", "income|annual income", "lognormal", 10.9, 0.5, -2),
        C("credit_score", "int", "credit score|fico", "normal", 690, 60, 300, 850),
        C("grade", "cat", "grade|risk grade", ["A", "B", "C", "D", "E"]),
        C("defaulted", "bool", "defaulted|default", 0.1),
        C("state", "cat", "state", ["CA", "TX", "NY", "FL", "IL", "WA", "OH"]),
    ]),
    _d("campaigns", "campaigns ad_performance marketing ads", "df ads campaigns data perf", "campaign days", [
        C("date", "date", "date|day", 2023, 1, False),
        C("campaign", "cat", "campaign|campaign name", ["spring_promo", "brand", "retargeting", "newsletter", "launch"]),
        C("platform", "cat", "platform|network|channel", ["search", "social", "video", "display"]),
        C("impressions", "int", "impressions|views", "lognormal", 9.5, 0.8),
        C("clicks", "int", "clicks", "lognormal", 5.5, 0.8),
        C("conversions", "int", "conversions|signups", "poisson", 12, 0),
        C("spend", "num", "spend|cost|ad spend", "lognormal", 5.3, 0.7, 2),
        C("revenue", "num", "revenue|sales", "lognormal", 6.0, 0.9, 2),
        C("device", "cat", "device", ["mobile", "desktop", "tablet"]),
    ]),
    _d("shipments", "shipments deliveries logistics freight", "df shipments data deliveries", "shipments", [
        C("shipment_id", "id", "shipment id|tracking id|id", 70000),
        C("shipped", "date", "ship date|shipped|date", 2022, 2, False),
        C("carrier", "cat", "carrier|courier", ["DHL", "UPS", "FedEx", "PostNL", "GLS"]),
        C("origin", "cat", "origin|from|warehouse", ["Rotterdam", "Hamburg", "Antwerp", "Gdansk", "Le Havre"]),
        C("weight_kg", "num", "weight|weight kg|kg", "lognormal", 2.5, 1.0, 1),
        C("cost", "num", "cost|shipping cost|freight cost", "lognormal", 3.7, 0.7, 2),
        C("days", "int", "transit days|days|delivery days", "poisson", 4, 1),
        C("late", "bool", "late|delayed|is late", 0.15),
        C("service", "cat", "service|service level", ["standard", "express", "economy"]),
        C("packages", "int", "packages|parcels", "poisson", 2, 1),
    ], Lookup("carriers", "carrier", (C("hub", "cat", "hub|home hub", CITIES), C("rating", "num", "rating|carrier rating", "uniform", 2.5, 5, 1)))),
    _d("hotel", "bookings hotel_bookings reservations", "df bookings data res", "bookings", [
        C("booking_id", "id", "booking id|reservation id|id", 1),
        C("arrival", "date", "arrival date|arrival|check in", 2022, 2, False),
        C("hotel", "cat", "hotel", ["City Hotel", "Resort Hotel", "Airport Inn"]),
        C("nights", "int", "nights|stay nights|length of stay", "poisson", 3, 1),
        C("adults", "int", "adults|guests", "uniform", 1, 4),
        C("adr", "num", "daily rate|adr|average daily rate", "normal", 105, 35, 2, 20),
        C("room_type", "cat", "room type|room", ["single", "double", "suite", "family"]),
        C("market", "cat", "market segment|segment|source", ["online TA", "direct", "corporate", "groups"]),
        C("canceled", "bool", "canceled|is canceled|cancelled", 0.27),
        C("lead_time", "int", "lead time|days in advance", "lognormal", 3.6, 1.0),
    ], Lookup("hotels", "hotel", (C("stars", "int", "stars|star rating", "uniform", 2, 5), C("rooms", "int", "rooms|room count", "uniform", 40, 400)))),
    _d("gym", "gym_members members memberships fitness", "df members data gym", "members", [
        C("member_id", "id", "member id|id", 1),
        C("joined", "date", "join date|joined|signup date", 2019, 5, False),
        C("plan", "cat", "plan|membership|membership type", ["basic", "plus", "premium", "student"]),
        C("age", "int", "age", "normal", 35, 12, 16, 80),
        C("gender", "cat", "gender", ["F", "M", "X"]),
        C("visits_per_month", "num", "visits per month|monthly visits|visits", "lognormal", 1.9, 0.6, 1),
        C("monthly_fee", "num", "monthly fee|fee|price", "choice", [19.99, 29.99, 39.99, 14.99]),
        C("weight_kg", "num", "weight|weight kg|body weight", "normal", 76, 14, 1),
        C("churned", "bool", "churned|cancelled|left", 0.18),
        C("club", "cat", "club|location|branch", CITIES[:5]),
    ]),
    _d("app", "app_events events user_events analytics", "df events data ev", "events", [
        C("event_time", "date", "event time|timestamp|time", 2024, 1, True),
        C("user_id", "int", "user id|user", "uniform", 1, 300),
        C("event", "cat", "event|event type|action", ["open", "view", "click", "purchase", "share", "logout"]),
        C("platform", "cat", "platform|os", ["iOS", "Android", "web"]),
        C("version", "cat", "app version|version", ["3.1.0", "3.2.1", "3.3.0", "4.0.2"]),
        C("session_sec", "num", "session length|session seconds|duration", "lognormal", 4.5, 1.0, 0),
        C("value", "num", "value|purchase value|amount", "lognormal", 2.0, 1.0, 2),
        C("country", "cat", "country", ["US", "GB", "DE", "IN", "BR", "MX"]),
        C("new_user", "bool", "new user|is new", 0.3),
    ]),
    _d("crops", "crop_yields harvest farms yields", "df crops yields data farms", "fields", [
        C("field_id", "id", "field id|plot|id", 1),
        C("year", "int", "year|season", "uniform", 2012, 2024),
        C("crop", "cat", "crop", ["wheat", "maize", "barley", "soy", "rapeseed", "potato"]),
        C("region", "cat", "region|province", ["North", "South", "Coast", "Valley", "Plateau"]),
        C("area_ha", "num", "area|area ha|hectares", "lognormal", 3.0, 0.6, 1),
        C("yield_t_ha", "num", "yield|yield per hectare|yield t ha", "normal", 6.5, 1.8, 2, 0),
        C("rainfall_mm", "num", "rainfall|rain mm|precipitation", "normal", 620, 140, 0),
        C("fertilizer_kg", "num", "fertilizer|fertilizer kg", "uniform", 50, 300, 0),
        C("irrigated", "bool", "irrigated|irrigation", 0.4),
        C("planted", "date", "planting date|planted|sowing date", 2020, 4, False),
    ]),
    _d("cars", "used_cars cars car_listings vehicles", "df cars data autos", "cars", [
        C("make", "cat", "make|brand|manufacturer", ["Toyota", "Ford", "Honda", "BMW", "Kia", "Tesla", "Skoda", "Fiat"]),
        C("model_year", "int", "model year|year", "uniform", 2005, 2024),
        C("mileage", "int", "mileage|odometer|km driven", "lognormal", 11.0, 0.7),
        C("price", "num", "price|asking price|listing price", "lognormal", 9.6, 0.6, -1),
        C("fuel", "cat", "fuel|fuel type", ["petrol", "diesel", "hybrid", "electric"]),
        C("transmission", "cat", "transmission|gearbox", ["manual", "automatic"]),
        C("engine_l", "num", "engine size|engine|displacement", "uniform", 1.0, 4.0, 1),
        C("owners", "int", "owners|previous owners", "poisson", 1.3, 0),
        C("listed", "date", "listing date|listed|date", 2023, 2, False),
        C("color", "cat", "color|colour", ["black", "white", "silver", "red", "blue", "grey"]),
        C("accident", "bool", "accident|had accident", 0.2),
    ], Lookup("makes", "make", (C("origin_country", "cat", "country of origin|origin country", ["JP", "US", "DE", "KR", "CZ", "IT"]), C("warranty_years", "int", "warranty years|warranty", "uniform", 2, 7)))),
    _d("claims", "insurance_claims claims policies", "df claims data", "claims", [
        C("claim_id", "id", "claim id|id", 9000),
        C("filed", "date", "claim date|filed|date filed", 2021, 3, False),
        C("policy_type", "cat", "policy type|policy|line", ["auto", "home", "travel", "health", "pet"]),
        C("claim_amount", "num", "claim amount|amount|claimed", "lognormal", 7.6, 1.0, 2),
        C("paid", "num", "paid amount|paid|payout", "lognormal", 7.1, 1.0, 2),
        C("customer_age", "int", "customer age|age|policyholder age", "normal", 45, 14, 18, 90),
        C("region", "cat", "region", REGIONS),
        C("fraud", "bool", "fraud|flagged|is fraud", 0.06),
        C("days_to_settle", "int", "days to settle|settlement days", "lognormal", 3.2, 0.7),
        C("adjuster", "cat", "adjuster|handler", ["Kim", "Lopez", "Berg", "Sato", "Weber"]),
    ]),
    _d("inventory", "inventory stock products warehouse", "df stock inventory products data", "products", [
        C("sku", "cat", "sku|product code", [f"SKU-{i}" for i in range(1000, 1040)]),
        C("product", "text", "product|product name|name"),
        C("warehouse", "cat", "warehouse|location|depot", ["WH1", "WH2", "WH3", "WH4"]),
        C("category", "cat", "category", ["tools", "garden", "kitchen", "toys", "paint", "lighting"]),
        C("on_hand", "int", "on hand|stock|quantity", "poisson", 60, 0),
        C("reorder_level", "int", "reorder level|min stock|reorder point", "uniform", 10, 50),
        C("unit_cost", "num", "unit cost|cost", "lognormal", 2.8, 0.8, 2),
        C("last_count", "date", "last count|counted|last stocktake", 2024, 1, False),
        C("discontinued", "bool", "discontinued|is discontinued", 0.07),
        C("supplier", "cat", "supplier|vendor", ["Acme", "Globex", "Initech", "Umbrella", "Stark"]),
    ]),
    _d("air_quality", "air_quality aq_readings pollution", "df aq air data readings", "readings", [
        C("measured", "date", "measured at|time|timestamp", 2022, 1, True),
        C("monitor", "cat", "monitor|station|monitor id", ["AQ-01", "AQ-02", "AQ-03", "AQ-04", "AQ-05", "AQ-06"]),
        C("district", "cat", "district|area|zone", ["Docks", "Old Town", "University", "Airport", "Industrial"]),
        C("pm25", "num", "pm25|fine particles|particulates", "lognormal", 2.6, 0.5, 1),
        C("pm10", "num", "pm10|coarse particles", "lognormal", 3.1, 0.5, 1),
        C("no2", "num", "no2|nitrogen dioxide", "normal", 32, 12, 1, 0),
        C("ozone", "num", "ozone|o3", "normal", 58, 18, 1, 0),
        C("aqi", "int", "aqi|air quality index", "normal", 62, 25, 5, 300),
        C("aq_level", "cat", "air quality|level|aq category", ["good", "moderate", "unhealthy", "hazardous"]),
        C("exceedance", "bool", "exceedance|limit exceeded|over limit", 0.1),
    ]),
    _d("music", "streams plays listening_history music_export", "df plays streams data", "plays", [
        C("played_at", "date", "played at|time|play time", 2023, 1, True),
        C("track", "cat", "track|song|track name", ["Northern Lights", "Slow Motion", "Paper Planes", "Golden Hour",
                                                    "Static", "Undertow", "Neon Rain", "Harbor Song"]),
        C("artist", "cat", "artist|band", ["The Vales", "Mira Sol", "Oak and Ash", "DJ Kestrel", "Luna Park"]),
        C("music_genre", "cat", "genre|music genre", ["pop", "rock", "jazz", "electronic", "hip hop", "folk"]),
        C("seconds_played", "int", "seconds played|listening time|play seconds", "normal", 170, 60, 5, 420),
        C("skipped", "bool", "skipped|was skipped", 0.25),
        C("shuffle", "bool", "shuffle|on shuffle", 0.4),
        C("device", "cat", "device|platform", ["phone", "desktop", "speaker", "car", "tv"]),
        C("listener_age", "int", "listener age|age|user age", "normal", 29, 9, 13, 75),
        C("country", "cat", "country", ["US", "SE", "BR", "DE", "JP", "MX"]),
    ]),
    _d("bakery", "bakery_production bakes daily_bakes", "df bakes bakery data prod", "bakes", [
        C("bake_date", "date", "bake date|date|production date", 2023, 1, False),
        C("item", "cat", "item|product|pastry", ["croissant", "baguette", "sourdough", "muffin", "cinnamon roll",
                                                  "rye loaf", "scone"]),
        C("shop", "cat", "shop|branch|outlet", ["Market St", "Station", "Harbour", "Mall"]),
        C("baked", "int", "baked|units baked|made", "poisson", 40, 5),
        C("sold", "int", "sold|units sold", "poisson", 32, 0),
        C("wasted", "int", "wasted|waste|leftover", "poisson", 5, 0),
        C("price_each", "num", "price each|unit price|price", "uniform", 1.2, 6.5, 2),
        C("oven_temp", "int", "oven temperature|oven temp", "normal", 210, 15, 160, 260),
        C("baker", "cat", "baker", ["Ana", "Gus", "Hana", "Omar", "Rosa"]),
        C("gluten_free", "bool", "gluten free|is gluten free", 0.15),
    ]),
    _d("parking", "parking_tickets citations parking_fines", "df citations fines data pk", "citations", [
        C("citation_id", "id", "citation id|ticket number|id", 400000),
        C("issued", "date", "issued at|issue date|time", 2023, 1, True),
        C("parking_zone", "cat", "zone|parking zone", ["Z1", "Z2", "Z3", "Z4", "Z5", "Z6"]),
        C("violation", "cat", "violation|offence|reason", ["expired meter", "no permit", "double parking",
                                                           "loading zone", "hydrant", "overtime"]),
        C("fine", "num", "fine|fine amount|penalty", "choice", [25.0, 35.0, 50.0, 75.0, 100.0, 150.0]),
        C("vehicle", "cat", "vehicle type|vehicle", ["car", "van", "motorcycle", "truck"]),
        C("plate_state", "cat", "plate state|registration state", ["CA", "NV", "OR", "AZ", "WA"]),
        C("officer", "cat", "officer|warden|issued by", ["Kim", "Novak", "Haddad", "Costa", "Jensen"]),
        C("settled", "bool", "paid|is paid|settled", 0.7),
        C("days_to_pay", "int", "days to pay|payment delay", "poisson", 12, 0),
    ]),
    _d("quakes", "earthquakes quakes seismic_events", "df quakes events data eq", "earthquakes", [
        C("origin_time", "date", "time|origin time|event time", 2015, 8, True),
        C("magnitude", "num", "magnitude|mag", "lognormal", 1.1, 0.35, 1),
        C("depth_km", "num", "depth|depth km", "lognormal", 2.7, 0.8, 1),
        C("quake_region", "cat", "region|area", ["Aleutians", "Andes", "Anatolia", "Honshu", "Java", "Cascadia", "Apennines"]),
        C("stations", "int", "stations|station count|reporting stations", "poisson", 25, 3),
        C("felt", "int", "felt reports|felt", "poisson", 3, 0),
        C("tsunami", "bool", "tsunami|tsunami warning", 0.03),
        C("mag_type", "cat", "magnitude type|mag type", ["ml", "mb", "mw", "md"]),
    ]),
    _d("shelter", "shelter_animals adoptions intakes", "df animals pets data shelter", "animals", [
        C("animal_id", "id", "animal id|id", 20000),
        C("intake", "date", "intake date|intake|arrived", 2021, 3, False),
        C("animal", "cat", "animal type|animal|type", ["dog", "cat", "rabbit", "bird"]),
        C("breed", "cat", "breed", ["mixed", "labrador", "siamese", "beagle", "tabby", "terrier", "lop"]),
        C("age_months", "int", "age in months|age months|age", "lognormal", 3.0, 0.9),
        C("animal_weight", "num", "weight|weight kg", "lognormal", 2.0, 0.7, 1),
        C("outcome", "cat", "outcome|outcome type", ["adopted", "returned to owner", "transferred", "still in care"]),
        C("days_in_care", "int", "days in care|length of stay|days", "poisson", 21, 1),
        C("vaccinated", "bool", "vaccinated|is vaccinated", 0.75),
        C("animal_sex", "cat", "sex", ["F", "M"]),
    ]),
    _d("courses", "enrollments course_progress learners mooc", "df enrollments learners data", "enrollments", [
        C("enrollment_id", "id", "enrollment id|id", 1),
        C("enrolled", "date", "enrollment date|enrolled|signup date", 2022, 2, False),
        C("course", "cat", "course|course name", ["Intro to SQL", "Python Basics", "Statistics 101", "Data Viz",
                                                  "Machine Learning", "Excel Pro"]),
        C("level", "cat", "level|difficulty", ["beginner", "intermediate", "advanced"]),
        C("progress_pct", "num", "progress|progress pct|percent complete", "uniform", 0, 100, 0),
        C("quiz_avg", "num", "quiz average|quiz score|average quiz score", "normal", 74, 13, 1, 0, 100),
        C("study_hours", "num", "hours spent|study hours|hours", "lognormal", 2.3, 0.7, 1),
        C("completed", "bool", "completed|finished", 0.35),
        C("learner_country", "cat", "country|learner country", ["IN", "US", "NG", "BR", "DE", "ID"]),
        C("paid_plan", "bool", "paid plan|is paying", 0.3),
    ]),
    _d("fishing", "catches fishing_trips landings", "df catches trips data landings", "trips", [
        C("trip_no", "id", "trip number|trip id|id", 1),
        C("landed", "date", "landing date|landed|date", 2020, 4, False),
        C("vessel", "cat", "vessel|boat", ["Sea Lark", "Northwind", "Marisol", "Tern", "Osprey", "Kittiwake"]),
        C("port", "cat", "port|harbour|home port", ["Peterhead", "Vigo", "Bergen", "Esbjerg", "Brixham"]),
        C("fish", "cat", "species|target species|fish", ["cod", "haddock", "mackerel", "herring", "hake", "sole"]),
        C("catch_kg", "num", "catch|catch kg|landed weight", "lognormal", 7.3, 0.8, 0),
        C("crew", "int", "crew|crew size", "uniform", 2, 9),
        C("fuel_l", "num", "fuel|fuel litres|fuel used", "lognormal", 6.5, 0.5, 0),
        C("hours_at_sea", "num", "hours at sea|trip hours", "lognormal", 3.6, 0.5, 1),
        C("price_per_kg", "num", "price per kg|price|price kg", "normal", 3.2, 1.1, 2, 0.5),
        C("over_quota", "bool", "over quota|quota exceeded", 0.05),
    ]),
)

DOMAIN_NAMES = tuple(d.name for d in DOMAINS)

TEXT_POOLS = {
    "title": ["The Long Night", "Paper Cities", "Blue Harbor", "Iron Rain", "Quiet Hours", "Glass Garden", "Red Valley",
              "Last Orbit", "Small Wonders", "Cold Current", "Open Roads", "Hidden Lake", "Silver Line", "Wild Acre"],
    "product": ["drill", "hose", "kettle", "toy car", "roller", "lamp", "spade", "pan", "puzzle", "brush", "bulb",
                "saw", "mug", "rake", "kite", "fan"],
    "airline_name": ["American", "Delta", "United", "Southwest", "JetBlue", "Alaska", "Spirit"],
}


CODES = frozenset({"customer_id", "user_id", "status", "table_no", "term", "year", "model_year", "year_built", "grade"})
"""Integer columns that label rather than measure: grouped by or counted, never summed or averaged."""

NON_ADDITIVE = frozenset({
    "age", "bmi", "systolic", "cholesterol", "temperature", "humidity", "pressure", "battery", "co2", "rating", "math",
    "reading", "science", "credit_score", "rate", "unit_price", "price", "tmax", "tmin", "wind", "latency_ms",
    "outdoor_temp", "peak_kw", "adr", "yield_t_ha", "rainfall_mm", "engine_l", "monthly_fee", "visits_per_month",
    "user_age", "customer_age", "satisfaction", "discount", "sqft", "lead_time", "runtime", "reorder_level", "unit_cost",
    "mileage", "owners", "days_to_settle", "days", "hours_to_resolve", "weight_kg", "bedrooms", "bathrooms",
    "days_on_market", "party_size", "salary", "duration_min", "minutes", "session_sec", "air_time", "dep_delay", "arr_delay",
    "pm25", "pm10", "no2", "ozone", "aqi", "listener_age", "price_each", "oven_temp", "days_to_pay", "magnitude",
    "depth_km", "stations", "age_months", "animal_weight", "days_in_care", "progress_pct", "quiz_avg", "crew",
    "price_per_kg",
})
"""Measures whose sum means nothing to an analyst (a total of ages or temperatures): averaged, not summed."""


# --- naming -------------------------------------------------------------------------------------------------

def _norm_key(name: str) -> str:
    """Names that differ only in casing or separators ("UnitPrice", "unit_price") would read the same in a request."""
    return "".join(N.split_words(name))


# --- tables -------------------------------------------------------------------------------------------------


@dataclass
class Column:
    name: str
    """The exact column name in the CSV."""
    phrase: str
    """How a person says it ("unit price")."""
    kind: str
    """id, cat, num, int, date, bool, text (expr columns are num)."""
    spec: Spec
    missing: float = 0.0
    datetime: bool = False
    """True when the column holds datetime64 values in the frame (parsed on load or converted later)."""
    has_time: bool = False
    aliases: tuple[str, ...] = ()
    """Other ways a request names it by meaning ("quantity" for `qty`); unambiguous within its table."""

    @property
    def numeric(self) -> bool:
        return self.kind in ("num", "int")

    @property
    def is_code(self) -> bool:
        return self.kind == "int" and self.spec.key in CODES

    @property
    def additive(self) -> bool:
        return self.spec.key not in NON_ADDITIVE and not self.is_code


@dataclass
class Table:
    domain: Domain
    columns: list[Column]
    frame: pd.DataFrame
    """The data as written to CSV (dates as datetime64 here)."""
    stem: str
    rows_word: str
    lookup: "Table | None" = None
    lookup_key: Column | None = None
    """For a lookup table: the key column it shares with the main table (the main table's Column)."""
    extra: dict = field(default_factory=dict)
    invented: bool = False
    """Table, file and column names are all invented words."""
    guests: list[Column] = field(default_factory=list)
    """Columns from another domain (see `_guest_specs`)."""

    def col(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def by_kind(self, *kinds: str) -> list[Column]:
        return [c for c in self.columns if c.kind in kinds]


def _clip(values: np.ndarray, lo=None, hi=None) -> np.ndarray:
    if lo is not None or hi is not None:
        values = np.clip(values, lo, hi)
    return values


def _round(values: np.ndarray, decimals: int) -> np.ndarray:
    return np.round(values, decimals)


def _draw(spec: Spec, n: int, rng: np.random.Generator, drawn: dict[str, np.ndarray], cats_k: int | None = None):
    g = spec.gen
    if spec.kind == "id":
        start = g[0] if g else 1
        return np.arange(start, start + n)
    if spec.kind == "cat":
        values = list(g[0])
        k = len(values) if cats_k is None else max(2, min(len(values), cats_k))
        chosen = list(rng.choice(values, size=k, replace=False)) if k < len(values) else values
        weights = rng.dirichlet(np.full(len(chosen), 2.0))
        return np.array(chosen, dtype=object)[rng.choice(len(chosen), size=n, p=weights)]
    if spec.kind == "bool":
        return rng.random(n) < g[0]
    if spec.kind == "text":
        pool = TEXT_POOLS.get(spec.key)
        if pool is None:
            return np.array(_names(rng, n), dtype=object)
        return np.array([rng.choice(pool) for _ in range(n)], dtype=object)
    if spec.kind == "date":
        year0, span_years, with_time = g
        start = pd.Timestamp(year=int(year0) + int(rng.integers(0, 3)), month=1, day=1)
        days = int(365 * span_years)
        offs = np.sort(rng.integers(0, days, size=n)) if rng.random() < 0.5 else rng.integers(0, days, size=n)
        stamps = start + pd.to_timedelta(offs, unit="D")
        if with_time:
            stamps = stamps + pd.to_timedelta(rng.integers(0, 24 * 60, size=n), unit="m")
        return np.asarray(stamps, dtype="datetime64[ns]")
    if spec.kind == "expr":
        expr, decimals = g
        a, b = expr.split("*")
        if a in drawn and b in drawn:
            return _round(drawn[a].astype(float) * drawn[b].astype(float), decimals)
        return None
    dist = g[0]
    if dist == "choice":
        return np.array(g[1])[rng.integers(0, len(g[1]), size=n)]
    if dist == "normal":
        mu, sd = g[1], g[2]
        values = rng.normal(mu, sd, size=n)
    elif dist == "lognormal":
        values = rng.lognormal(g[1], g[2], size=n)
    elif dist == "uniform":
        lo, hi = g[1], g[2]
        values = rng.integers(lo, hi + 1, size=n) if spec.kind == "int" else rng.uniform(lo, hi, size=n)
    elif dist == "poisson":
        values = rng.poisson(g[1], size=n) + (g[2] if len(g) > 2 else 0)
    else:
        raise ValueError(dist)
    if spec.kind == "int":
        lo = g[3] if dist == "normal" and len(g) > 3 else None
        hi = g[4] if dist == "normal" and len(g) > 4 else None
        return _clip(np.round(values), lo, hi).astype(np.int64)
    decimals = g[3] if dist in ("normal", "lognormal", "uniform") and len(g) > 3 else 2
    lo = g[4] if len(g) > 4 else None
    hi = g[5] if len(g) > 5 else None
    return _round(_clip(values, lo, hi), decimals)


MIXED_SHARE = 0.25
"""Share of tables (of a randomly drawn domain) that also carry a few columns of another domain."""


def _guest_specs(rng: random.Random, domain: Domain) -> list[Spec]:
    """One to three plain columns of another domain, none of whose words any column of `domain` uses.

    Real files carry columns nobody would guess from the rest (a sales export with a `bmi` column is odd, one with
    `wind_kmh` next to `takings` is not), and a model taught only tidy domains learns which column a domain's
    requests usually mean instead of reading which column the request names. With strangers in the table, the
    request's words are the only guide."""
    guest = rng.choice([d for d in DOMAINS if d is not domain])
    taken_words = {w for s in domain.specs for w in s.words} | {w for s in domain.specs for w in s.key.split("_")}
    keys = {s.key for s in domain.specs}
    pool = [s for s in guest.specs if s.kind in ("cat", "num", "int", "bool") and s.key not in keys
            and not (set(s.words) | set(s.key.split("_"))) & taken_words]
    return rng.sample(pool, min(len(pool), rng.randint(1, 3)))


def make_table(rng: random.Random, domain: Domain | None = None, nrows: int | None = None,
               invent: bool | None = None, mix: bool | None = None) -> Table:
    """A random table of a random (or given) domain; its file and column names are drawn by `names` (with
    `invent`, or in INVENTED_DOMAIN_SHARE of tables, all invented). With `mix` (or, for a random domain, in
    MIXED_SHARE of tables) a few columns of another domain join it (`_guest_specs`)."""
    nrng = np.random.default_rng(rng.getrandbits(63))
    mix = (domain is None and rng.random() < MIXED_SHARE) if mix is None else mix
    domain = domain or rng.choice(DOMAINS)
    guests = _guest_specs(rng, domain) if mix else []
    specs = list(domain.specs)
    must = [s for s in specs if s.kind in ("id", "date")][:1]
    rest = [s for s in specs if s not in must]
    k = rng.randint(max(4, len(specs) // 2), len(specs))
    chosen = set(s.key for s in must) | set(s.key for s in rng.sample(rest, min(len(rest), k - len(must))))
    # keep at least two categorical and two numeric columns when the domain has them
    for kinds in (("cat",), ("num", "int", "expr")):
        have = [s for s in specs if s.kind in kinds and s.key in chosen]
        pool = [s for s in specs if s.kind in kinds and s.key not in chosen]
        rng.shuffle(pool)
        while len(have) < 2 and pool:
            s = pool.pop()
            chosen.add(s.key)
            have.append(s)
    specs = [s for s in specs if s.key in chosen]
    for guest in guests:  # anywhere after the first column
        specs.insert(rng.randint(1, len(specs)), guest)
    if rng.random() < 0.25:  # not every file keeps its columns in a tidy order
        head, tail = specs[:1], specs[1:]
        rng.shuffle(tail)
        specs = head + tail
    style = rng.choice(N.NAME_STYLES)
    invented = rng.random() < N.INVENTED_DOMAIN_SHARE if invent is None else invent
    n = nrows or int(round(math_exp(rng.uniform(math_log(25), math_log(1500)))))

    drawn: dict[str, np.ndarray] = {}
    columns: list[Column] = []
    for spec in specs:
        if spec.kind == "expr":
            continue
        cats_k = rng.randint(2, len(spec.gen[0])) if spec.kind == "cat" and rng.random() < 0.3 else None
        drawn[spec.key] = _draw(spec, n, nrng, drawn, cats_k)
    for spec in specs:
        if spec.kind == "expr":
            values = _draw(spec, n, nrng, drawn)
            if values is None:
                continue
            drawn[spec.key] = values
    used_names: set[str] = set()
    used_keys: set[str] = set()
    for spec in specs:
        if spec.key not in drawn:
            continue
        col_style = style if rng.random() >= N.STYLE_SWITCH else rng.choice(N.NAME_STYLES)
        for attempt in range(4):
            words, source = N.column_words(spec.words, spec.key, spec.kind, spec.unit, rng, invented)
            name = N.render(words, col_style)
            if name and name not in used_names and _norm_key(name) not in used_keys:
                break
        else:
            name = N.render(spec.key.split("_"), "snake")
            words, source = spec.key.split("_"), "domain"
            if name in used_names or _norm_key(name) in used_keys:
                continue
        used_names.add(name)
        used_keys.add(_norm_key(name))
        kind = "num" if spec.kind == "expr" else spec.kind
        has_time = spec.kind == "date" and bool(spec.gen[2])
        phrase = N.phrase_of(words, source, name)
        columns.append(Column(name, phrase, kind, spec, has_time=has_time,
                              aliases=N.aliases_of(spec.words, source, phrase)))
    N.unambiguous_aliases(columns)

    data = {}
    for col in columns:
        data[col.name] = drawn[col.spec.key]
    frame = pd.DataFrame(data)
    # missing values: a third of tables have none, others a few gaps in one to three columns
    if rng.random() < 0.6:
        candidates = [c for c in columns if c.kind in ("num", "int", "cat", "text") and c is not columns[0]]
        for col in rng.sample(candidates, min(len(candidates), rng.randint(1, 3))):
            frac = rng.choice([0.01, 0.02, 0.05, 0.08, 0.12, 0.2])
            mask = nrng.random(n) < frac
            if mask.any():
                if col.kind == "int":
                    frame[col.name] = frame[col.name].astype("float64")
                frame.loc[mask, col.name] = np.nan
                col.missing = float(mask.mean())
    stem = N.invented_stem(rng) if invented else N.vary_stem(rng.choice(domain.stems), rng)
    rows_word = rng.choice(["rows", "records", "entries"]) if invented else domain.rows
    table = Table(domain, columns, frame, stem, rows_word)
    table.invented = invented
    table.guests = [c for c in columns if c.spec in guests]
    if domain.lookup is not None and domain.lookup.stem != stem and any(c.spec.key == domain.lookup.key for c in columns):
        table.lookup = make_lookup(rng, nrng, table, style)
    return table


def make_lookup(rng: random.Random, nrng: np.random.Generator, main: Table, style: str) -> Table:
    lk = main.domain.lookup
    key_col = next(c for c in main.columns if c.spec.key == lk.key)
    keys = sorted(main.frame[key_col.name].dropna().unique().tolist())
    if rng.random() < 0.3 and len(keys) > 2:  # a lookup that misses one key: inner and left joins differ
        keys = keys[:-1]
    data = {key_col.name: keys}
    cols = [Column(key_col.name, key_col.phrase, "cat", key_col.spec)]
    for spec in lk.extra:
        words, source = N.column_words(spec.words, spec.key, spec.kind, spec.unit, rng, main.invented)
        name = N.render(words, style)
        if name in data or name in main.frame.columns and rng.random() < 0.7:
            name = name + ("_lk" if style == "snake" else "2")
            source = "name"
        if name in data or not name:
            continue
        data[name] = _draw(spec, len(keys), nrng, {})
        cols.append(Column(name, N.phrase_of(words, source, name), "num" if spec.kind == "expr" else spec.kind, spec))
    frame = pd.DataFrame(data)
    if main.invented:
        stem = N.invented_stem(rng)
    else:
        stem = N.vary_stem(lk.stem, rng)
    if stem == main.stem:
        stem = lk.stem + "_lookup"
    return Table(main.domain, cols, frame, stem, stem, lookup_key=key_col)


def math_exp(x: float) -> float:
    import math

    return math.exp(x)


def math_log(x: float) -> float:
    import math

    return math.log(x)


def write_csv(table: Table, folder: Path, subdir: str = "") -> str:
    """Write the table; returns the path the notebook uses to read it (relative to `folder`)."""
    rel = f"{subdir}/{table.stem}.csv" if subdir else f"{table.stem}.csv"
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = table.frame.copy()
    for col in table.columns:
        if col.kind == "date" and not col.has_time:
            frame[col.name] = frame[col.name].dt.strftime("%Y-%m-%d")
    frame.to_csv(path, index=False)
    return rel
