"""Writes the synthetic bike-share data the example notebooks read: data/stations.csv and data/trips_<YYYY-MM>.csv.

Deterministic (numpy seeded), so rerunning it writes the same files. The city, its districts and stations are
made up. The patterns are the ones the team's notebooks look at: members commuting from the residential
districts into Old Town and the university at 8 and back at 17, casual riders at weekends and along the
waterfront, rainy days with fewer trips, the university term starting mid-September, Castle Hill emptying
(riders go down the hill, not up), bikes off the road in the workshop, and a little dirt (false
starts, bikes never docked, clock glitches, a few duplicated rows in the August export) for `tk.clean`.

    .venv/bin/python notebooks/examples/make_data.py
"""

from __future__ import annotations

import calendar
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parent / "data"
MONTHS = {"2026-06": 1450, "2026-07": 1620, "2026-08": 1560, "2026-09": 1520}  # trips a month, roughly
CENTRE = (52.2041, -1.6262)  # lat, lon of the Corn Exchange; the city is invented

# district: (code, centre east km, centre north km, home, work, leisure) weights of its stations as trip ends
DISTRICTS = {
    "Old Town": ("OT", 0.0, 0.0, 0.3, 1.2, 1.0),
    "Harbourside": ("HB", -1.6, -1.3, 0.4, 0.6, 1.4),
    "Millbrook": ("MB", -2.6, 2.1, 1.0, 0.2, 0.4),
    "Northgate": ("NG", 0.4, 3.0, 1.0, 0.4, 0.2),
    "Castle Hill": ("CH", 2.1, 0.8, 0.5, 1.0, 0.6),
    "Eastfield": ("EF", 3.4, -1.6, 0.8, 0.2, 0.2),
}
# name, district, docks, popularity
STATIONS = [
    ("Corn Exchange", "Old Town", 30, 2.0), ("Tannery Square", "Old Town", 24, 1.4),
    ("Guildhall Steps", "Old Town", 20, 1.2), ("Weavers Row", "Old Town", 16, 0.9),
    ("St Brannoc's Church", "Old Town", 12, 0.6), ("Market Cross", "Old Town", 24, 1.5),
    ("Lantern Yard", "Old Town", 16, 0.8), ("Cooper Street", "Old Town", 14, 0.7),
    ("Fishmarket Quay", "Harbourside", 24, 1.5), ("Ropewalk", "Harbourside", 16, 0.8),
    ("Lighthouse Pier", "Harbourside", 20, 1.3), ("Chandlers Wharf", "Harbourside", 18, 1.0),
    ("Ferry Terminal", "Harbourside", 28, 1.8), ("Dry Dock Gate", "Harbourside", 12, 0.5),
    ("Saltings Park", "Harbourside", 16, 0.9),
    ("Millbrook Station", "Millbrook", 30, 2.0), ("Mill Pond", "Millbrook", 16, 0.8),
    ("Fulling Lane", "Millbrook", 14, 0.7), ("Otter Bridge", "Millbrook", 16, 0.9),
    ("Brewery Green", "Millbrook", 18, 1.0), ("Millbrook Library", "Millbrook", 12, 0.6),
    ("Sawyers Close", "Millbrook", 12, 0.4),
    ("Northgate Interchange", "Northgate", 26, 1.6), ("Hospital North", "Northgate", 24, 1.5),
    ("Tollbar Roundabout", "Northgate", 14, 0.6), ("Kiln Street", "Northgate", 14, 0.7),
    ("Northgate Baths", "Northgate", 12, 0.5), ("Gasworks Road", "Northgate", 12, 0.4),
    ("Castle Hill Top", "Castle Hill", 18, 1.0), ("University Main Gate", "Castle Hill", 30, 1.9),
    ("Science Park", "Castle Hill", 20, 1.1), ("Observatory Lane", "Castle Hill", 12, 0.6),
    ("Student Union", "Castle Hill", 24, 1.4), ("Bishop's Walk", "Castle Hill", 14, 0.7),
    ("Eastfield Retail Park", "Eastfield", 20, 0.9), ("Eastfield Depot", "Eastfield", 12, 0.4),
    ("Orchard Estate", "Eastfield", 16, 0.8), ("Cattle Market", "Eastfield", 14, 0.6),
    ("Eastfield Leisure Centre", "Eastfield", 16, 0.7), ("Plough Lane", "Eastfield", 12, 0.3),
]
FLEET = np.arange(1001, 1121)  # bikes B1001-B1120
HILL = 0.35  # share of the trips headed up Castle Hill that end below it instead: riders go down, walk up
# a station's own pull beyond its district's (commuter rail, hospital, seafront)
EXTRA = {"Millbrook Station": ("work", 3.0), "Hospital North": ("work", 3.0), "Ferry Terminal": ("leisure", 1.5),
         "Lighthouse Pier": ("leisure", 2.0), "Castle Hill Top": ("leisure", 2.5), "Mill Pond": ("leisure", 2.0)}


def make_stations(rng: np.random.Generator) -> pd.DataFrame:
    rows, seen = [], {}
    for name, district, docks, pop in STATIONS:
        code, east, north, *_ = DISTRICTS[district]
        seen[district] = seen.get(district, 0) + 1
        x, y = east + rng.normal(0, 0.55), north + rng.normal(0, 0.55)
        lat = CENTRE[0] + y / 111.2
        lon = CENTRE[1] + x / (111.2 * np.cos(np.radians(CENTRE[0])))
        rows.append({"station_id": f"{code}{seen[district]:02d}", "name": name, "district": district, "docks": docks,
                     "lat": round(lat, 5), "lon": round(lon, 5), "_x": x, "_y": y, "_pop": pop})
    return pd.DataFrame(rows)


def weights(st: pd.DataFrame, kind: str) -> np.ndarray:
    col = {"home": 3, "work": 4, "leisure": 5}[kind]
    w = np.array([DISTRICTS[d][col] for d in st["district"]]) * st["_pop"].to_numpy()
    for i, name in enumerate(st["name"]):
        if name in EXTRA and EXTRA[name][0] == kind:
            w[i] *= EXTRA[name][1]
    return w


def pick(rng: np.random.Generator, w: np.ndarray) -> int:
    return int(rng.choice(len(w), p=w / w.sum()))


def make_month(month: str, n_target: int, st: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    year, mon = map(int, month.split("-"))
    ndays = calendar.monthrange(year, mon)[1]
    xy = st[["_x", "_y"]].to_numpy()
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    home, work, leisure = weights(st, "home"), weights(st, "work"), weights(st, "leisure")
    pop = st["_pop"].to_numpy()
    campus = (st["district"] == "Castle Hill").to_numpy()
    holiday = mon == 8  # school holidays: fewer commuters, more visitors

    days = pd.date_range(f"{month}-01", periods=ndays, freq="D")
    weekend = days.day_of_week >= 5
    rain = rng.random(ndays) < 0.16
    level = np.where(weekend, 0.85, 1.0) * np.where(rain, 0.5, 1.0) * rng.normal(1.0, 0.1, ndays)
    level *= np.where((mon == 9) & (days.day >= 14), 1.25, 1.0)  # students back
    per_day = rng.poisson(n_target * level / level.sum())

    # bikes off the road: a few in the workshop all month, a few more breaking down during it
    broken_from = np.full(len(FLEET), ndays)
    out_of_service = rng.choice(len(FLEET), size=9, replace=False)
    broken_from[out_of_service[:3]] = 0
    broken_from[out_of_service[3:]] = rng.integers(3, ndays - 5, 6)

    rows = []
    for d, day in enumerate(days):
        term = mon == 9 and day.day >= 14
        for _ in range(per_day[d]):
            r = rng.random()
            if weekend[d]:
                kind = "member_leisure" if r < 0.38 else "casual"
            else:
                am, pm, other = (0.2, 0.22, 0.15) if holiday else (0.27, 0.29, 0.17)
                kind = "am" if r < am else "pm" if r < am + pm else "member_other" if r < am + pm + other else "casual"
            w_home = home * np.where(campus, 2.5, 1.0) if term else home
            w_work = work * np.where(campus, 1.6, 1.0) if term else work
            if kind == "am":
                s = pick(rng, w_home)
                e = pick(rng, w_work * np.exp(-dist[s] / 4.0) * (dist[s] > 0.6))
                hour = rng.normal(8.0, 0.7)
            elif kind == "pm":
                s = pick(rng, w_work)
                e = pick(rng, w_home * np.exp(-dist[s] / 4.0) * (dist[s] > 0.6))
                hour = rng.normal(17.4, 0.9)
            elif kind in ("member_other", "member_leisure"):
                s = pick(rng, pop if kind == "member_other" else leisure + 0.5 * pop)
                e = pick(rng, pop * np.exp(-dist[s] / 2.0) * (dist[s] > 0.3))
                if kind == "member_other":
                    hour = rng.choice([rng.normal(12.5, 1.2), rng.normal(19.5, 1.5), rng.uniform(7, 22)], p=[0.4, 0.3, 0.3])
                else:
                    hour = rng.normal(12.5, 3.0)
            else:
                s = pick(rng, leisure)
                e = s if rng.random() < 0.22 else pick(rng, leisure * np.exp(-dist[s] / 2.0) * (dist[s] > 0.3))
                hour = rng.normal(14.0, 2.8 if weekend[d] else 3.2)
            if campus[e] and e != s and rng.random() < HILL:
                e = pick(rng, pop * np.exp(-dist[s] / 2.0) * ~campus)
            member = kind != "casual"
            hour = float(np.clip(hour, 5.5, 23.9))
            if s == e:
                km = rng.gamma(3.0, 1.4) + 0.5
            else:
                km = dist[s, e] * rng.uniform(1.15, 1.45)
            speed = rng.normal(14.0, 2.0) if member else rng.normal(10.0, 2.0)
            minutes = km / max(speed, 6.0) * 60 + rng.uniform(1, 3) + (0 if member else rng.exponential(9.0))
            start = day + pd.Timedelta(seconds=int(hour * 3600))
            bike = rng.choice(FLEET[broken_from > d])
            rows.append([s, e, start, start + pd.Timedelta(seconds=int(minutes * 60)), member, round(km, 2), bike])

    df = pd.DataFrame(rows, columns=["s", "e", "started_at", "ended_at", "member", "distance_km", "bike"])
    df = df.sort_values("started_at", kind="stable").reset_index(drop=True)
    ids = st["station_id"].to_numpy()
    out = pd.DataFrame({
        "trip_id": [f"T{month[2:4]}{month[5:7]}-{i:05d}" for i in range(1, len(df) + 1)],
        "bike_id": [f"B{b}" for b in df["bike"]],
        "start_station": ids[df["s"]],
        "end_station": ids[df["e"]].astype(object),
        "started_at": df["started_at"],
        "ended_at": df["ended_at"],
        "member_type": np.where(df["member"], "member", "casual"),
        "distance_km": df["distance_km"],
    })
    # the dirt the feed really has
    n = len(out)
    bad = rng.choice(n, size=int(n * 0.016), replace=False)
    for j, i in enumerate(bad):
        problem = ("zero", "zero", "zero", "over4h", "over4h", "negative", "undocked")[j % 7]
        if problem == "zero":  # undocked and put straight back
            out.loc[i, ["end_station", "distance_km"]] = [out.loc[i, "start_station"], 0.0]
            out.loc[i, "ended_at"] = out.loc[i, "started_at"] + pd.Timedelta(seconds=int(rng.uniform(20, 110)))
        elif problem == "over4h":  # not locked properly, closed hours later
            out.loc[i, "ended_at"] += pd.Timedelta(seconds=int(rng.uniform(5, 30) * 3600))
        elif problem == "negative":  # dock clock reset
            out.loc[i, "ended_at"] = out.loc[i, "started_at"] - pd.Timedelta(seconds=int(rng.uniform(2, 60) * 60))
        else:  # never docked
            out.loc[i, ["end_station", "ended_at", "distance_km"]] = [np.nan, pd.NaT, np.nan]
    if holiday:  # the August export repeated a few rows
        dup = out.iloc[np.sort(rng.choice(n, size=7, replace=False))]
        out = pd.concat([out, dup]).sort_values("started_at", kind="stable").reset_index(drop=True)
    for col in ("started_at", "ended_at"):
        out[col] = out[col].dt.floor("s")
    return out


def main() -> None:
    rng = np.random.default_rng(2026)
    DATA.mkdir(parents=True, exist_ok=True)
    st = make_stations(rng)
    st.drop(columns=["_x", "_y", "_pop"]).to_csv(DATA / "stations.csv", index=False)
    for month, n in MONTHS.items():
        trips = make_month(month, n, st, rng)
        trips.to_csv(DATA / f"trips_{month}.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
        print(f"{month}: {len(trips)} trips")
    print(f"stations: {len(st)}; written to {DATA}")


if __name__ == "__main__":
    main()
