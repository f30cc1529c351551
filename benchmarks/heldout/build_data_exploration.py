"""Writes data_exploration.jsonl from the items below, which were written by hand (see README.md).

Run: python benchmarks/heldout/build_data_exploration.py   (then validate.py checks every reference passes)
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

# --- tables (invented by hand; none of these domains or column sets exist in model/synth) ---------------------

HIVES = """hive_id,apiary,inspected,frames_brood,honey_kg,varroa_count,queen_seen,temperament
H01,Meadow,2024-04-06,5,2.1,3,True,calm
H02,Meadow,2024-04-06,7,3.4,1,True,calm
H03,Orchard,2024-04-07,4,1.2,9,False,nervous
H04,Orchard,2024-04-07,6,2.8,,True,calm
H05,Ridge,2024-04-09,3,0.9,14,False,aggressive
H01,Meadow,2024-05-11,8,6.5,4,True,calm
H02,Meadow,2024-05-11,9,7.9,2,True,calm
H03,Orchard,2024-05-12,6,4.4,11,True,nervous
H04,Orchard,2024-05-12,7,5.1,5,True,calm
H05,Ridge,2024-05-14,4,2.2,19,False,aggressive
H06,Ridge,2024-05-14,5,3.0,6,True,nervous
H01,Meadow,2024-06-15,9,11.2,6,True,calm
H02,Meadow,2024-06-15,10,12.8,3,False,calm
H03,Orchard,2024-06-16,7,8.1,15,True,nervous
H04,Orchard,2024-06-16,8,9.4,,True,calm
H05,Ridge,2024-06-18,4,3.1,25,True,aggressive
H06,Ridge,2024-06-18,6,6.7,8,True,calm
H01,Meadow,2025-04-05,6,2.6,2,True,calm
H02,Meadow,2025-04-05,7,3.9,1,True,calm
H06,Ridge,2025-04-08,5,2.4,4,True,calm
"""
APIARIES = """apiary,region,keeper
Meadow,Lowlands,Ines
Orchard,Lowlands,Pavel
Ridge,Highlands,Ines
"""
CHECKOUTS = """CheckoutID,Branch,Genre,Borrowed,DaysOut,MemberType,LateFee
1,Central,Mystery,2024-01-03,12,adult,0.0
2,Central,Poetry,2024-01-04,30,senior,1.5
3,Eastside,Mystery,2024-01-09,8,child,0.0
4,Harbor,Cookery,2024-01-15,21,adult,0.0
5,Eastside,Sci-Fi,2024-02-02,35,adult,2.5
6,Central,Sci-Fi,2024-02-06,14,child,0.0
7,Harbor,Mystery,2024-02-11,19,senior,0.0
8,Harbor,History,2024-02-20,28,adult,1.0
9,Central,History,2024-03-01,7,adult,0.0
10,Eastside,Cookery,2024-03-05,42,senior,3.5
11,Central,Mystery,2024-03-12,16,adult,0.0
12,Harbor,Poetry,2024-03-18,25,child,0.5
13,Eastside,History,2024-03-22,10,adult,0.0
14,Central,Cookery,2024-04-02,33,adult,2.0
15,Harbor,Sci-Fi,2024-04-09,11,child,0.0
16,Eastside,Mystery,2024-04-16,29,senior,1.0
17,Central,Poetry,2024-04-21,9,adult,0.0
18,Harbor,Mystery,2024-04-28,22,adult,0.0
"""
GAMES = """game_id,white_elo,black_elo,opening,result,moves,time_control,played_on
g1,1510,1620,Sicilian,0-1,42,blitz,2025-01-04
g2,1705,1690,French,1-0,55,rapid,2025-01-05
g3,1480,1475,Italian,1/2-1/2,61,rapid,2025-01-05
g4,1820,1600,Sicilian,1-0,38,blitz,2025-01-11
g5,1390,1550,Caro-Kann,0-1,47,bullet,2025-01-12
g6,1650,1655,Italian,1-0,70,classical,2025-01-18
g7,1555,1710,Sicilian,0-1,33,blitz,2025-01-19
g8,1600,1580,French,1/2-1/2,80,classical,2025-01-25
g9,1720,1500,Caro-Kann,1-0,29,bullet,2025-02-01
g10,1460,1490,Italian,0-1,52,rapid,2025-02-02
g11,1690,1700,Sicilian,1/2-1/2,66,classical,2025-02-08
g12,1530,1440,French,1-0,45,blitz,2025-02-09
g13,1610,1630,Sicilian,0-1,58,rapid,2025-02-15
g14,1780,1760,Italian,1-0,49,classical,2025-02-16
"""
ROASTS = """Batch,Origin,Roast Level,Green (g),Roasted (g),Minutes,Cupping Score,Roast Date
R-101,Ethiopia,light,1000,862,10.5,87.5,2024-09-02
R-102,Colombia,medium,1200,1002,11.8,84.0,2024-09-02
R-103,Brazil,dark,1500,1221,13.1,81.5,2024-09-03
R-104,Ethiopia,medium,1000,846,11.2,86.0,2024-09-05
R-105,Kenya,light,800,694,10.1,88.5,2024-09-06
R-106,Brazil,medium,1500,1262,12.0,82.5,2024-09-09
R-107,Colombia,dark,1200,978,13.4,80.0,2024-09-10
R-108,Kenya,medium,800,671,11.5,,2024-09-12
R-109,Ethiopia,light,1000,868,10.3,88.0,2024-09-13
R-110,Guatemala,medium,1100,925,11.9,84.5,2024-09-16
R-111,Brazil,dark,1500,1218,13.6,79.5,2024-09-17
R-112,Guatemala,light,1100,951,10.6,85.5,2024-09-19
R-113,Colombia,medium,1200,1009,11.6,,2024-09-20
R-114,Kenya,dark,800,652,13.0,81.0,2024-09-23
"""
MARATHON = """Bib,Runner,AgeGroup,Gender,FinishMin,HalfSplitMin,Country
101,Ade Okafor,18-34,M,178.4,86.0,NG
102,Bea Lindqvist,35-49,F,215.2,104.5,SE
103,Chen Wei,18-34,M,165.9,80.2,CN
104,Dora Silva,50+,F,262.7,125.0,BR
105,Erik Madsen,35-49,M,199.3,96.1,DK
106,Farah Aziz,18-34,F,204.8,99.9,MA
107,Goran Petrov,50+,M,231.5,110.4,BG
108,Hina Sato,35-49,F,221.0,106.3,JP
109,Ivo Novak,18-34,M,,88.5,CZ
110,Jana Kral,50+,F,248.6,119.7,CZ
111,Kai Muller,35-49,M,189.7,92.0,DE
112,Lea Brun,18-34,F,196.2,95.8,FR
113,Mateo Ruiz,50+,M,240.1,114.9,ES
114,Noor Haddad,35-49,F,,101.2,JO
115,Omar Farouk,18-34,M,171.3,83.7,EG
116,Pia Rossi,35-49,F,228.9,110.0,IT
"""
FERRY = """crossing_id,route,depart,vehicles,passengers,delay_min,weather
1,North Sound,2024-07-01 06:30,42,180,0,clear
2,Island Loop,2024-07-01 08:15,18,95,5,clear
3,North Sound,2024-07-01 12:00,55,240,12,windy
4,Harbor Link,2024-07-01 17:45,30,150,0,clear
5,Island Loop,2024-07-02 08:15,20,88,25,fog
6,North Sound,2024-07-02 12:00,61,255,3,clear
7,Harbor Link,2024-07-02 17:45,28,142,8,windy
8,North Sound,2024-07-03 06:30,39,170,40,fog
9,Island Loop,2024-07-03 08:15,15,80,0,clear
10,Harbor Link,2024-07-03 17:45,33,161,2,clear
11,North Sound,2024-07-04 12:00,58,262,15,windy
12,Island Loop,2024-07-04 08:15,22,101,0,clear
13,Harbor Link,2024-07-05 17:45,35,170,55,fog
14,North Sound,2024-07-05 06:30,44,190,1,clear
"""
ROUTES = """route,distance_km,operator
North Sound,34,Bluewave
Island Loop,12,Bluewave
Harbor Link,7,CityFerry
"""
BIRDS = """survey_date,site,species,count,observer
2025-03-01,Marsh,Heron,4,Ana
2025-03-01,Marsh,Teal,23,Ana
2025-03-01,Woods,Wren,7,Tom
2025-03-08,Marsh,Heron,2,Tom
2025-03-08,Woods,Robin,11,Tom
2025-03-08,Woods,Wren,5,Ana
2025-03-15,Marsh,Teal,31,Ana
2025-03-15,Shore,Gull,58,Lia
2025-03-15,Shore,Oystercatcher,12,Lia
2025-03-22,Shore,Gull,44,Lia
2025-03-22,Marsh,Heron,3,Ana
2025-03-22,Woods,Robin,9,Tom
2025-03-29,Shore,Oystercatcher,15,Lia
2025-03-29,Marsh,Teal,19,Tom
2025-03-29,Woods,Wren,6,Ana
"""
TURBINES = """turbine,date,wind_speed,output_mwh,downtime_h,model
T-A,2024-11-01,7.2,38.5,0,V90
T-B,2024-11-01,7.0,35.1,2,V90
T-C,2024-11-01,6.8,41.0,0,E82
T-A,2024-11-02,9.5,55.2,0,V90
T-B,2024-11-02,9.1,50.8,0,V90
T-C,2024-11-02,9.8,60.3,1,E82
T-A,2024-11-03,4.1,12.0,5,V90
T-B,2024-11-03,4.4,14.6,0,V90
T-C,2024-11-03,3.9,10.2,8,E82
T-A,2024-12-01,11.3,66.0,0,V90
T-B,2024-12-01,11.0,63.9,3,V90
T-C,2024-12-01,10.7,70.4,0,E82
T-A,2024-12-02,5.6,24.4,12,V90
T-B,2024-12-02,5.9,27.7,0,V90
T-C,2024-12-02,6.2,33.5,0,E82
"""
MUSEUM = """Visit Date,Gallery,Visitors,Ticket Type,Revenue
2025-05-03,Modern,320,standard,4160
2025-05-03,Antiquities,210,standard,2730
2025-05-03,Modern,95,student,665
2025-05-04,Photography,150,standard,1950
2025-05-04,Antiquities,180,member,0
2025-05-10,Modern,410,standard,5330
2025-05-10,Photography,60,student,420
2025-05-11,Antiquities,240,standard,3120
2025-05-11,Modern,130,member,0
2025-05-17,Photography,175,standard,2275
2025-05-17,Modern,380,standard,4940
2025-05-18,Antiquities,90,student,630
"""
RECYCLING = """week,district,material,tonnes,contaminated_pct
2025-01-06,Riverside,paper,12.4,3.1
2025-01-06,Riverside,glass,8.1,1.2
2025-01-06,Hilltop,paper,9.8,4.5
2025-01-06,Hilltop,plastic,5.2,9.8
2025-01-13,Riverside,paper,11.9,2.7
2025-01-13,Riverside,plastic,6.6,8.4
2025-01-13,Hilltop,glass,7.3,0.9
2025-01-13,Docklands,paper,14.2,5.0
2025-01-20,Docklands,plastic,7.9,11.2
2025-01-20,Docklands,glass,9.0,1.5
2025-01-20,Riverside,glass,8.4,1.0
2025-01-20,Hilltop,paper,10.1,4.1
"""
PODCASTS = """episode,show,release,duration_min,downloads,guest
1,Deep Field,2024-02-05,48,1520,False
2,Deep Field,2024-02-19,52,1710,True
3,Night Kitchen,2024-02-07,35,880,False
4,Night Kitchen,2024-02-21,41,1040,True
5,Deep Field,2024-03-04,61,2230,True
6,Night Kitchen,2024-03-06,38,910,False
7,Small Print,2024-03-10,27,450,False
8,Deep Field,2024-03-18,45,1390,False
9,Small Print,2024-03-24,30,610,True
10,Night Kitchen,2024-03-20,44,1180,True
11,Small Print,2024-04-07,29,520,False
12,Deep Field,2024-04-01,57,1980,True
"""

PD = "import pandas as pd\n"


def table(name, csv, var, parse=None, extra=None):
    files = {name: csv}
    files.update(extra or {})
    args = f'"{name}"' + (f", parse_dates={parse!r}".replace("'", '"') if parse else "")
    return files, f"{PD}{var} = pd.read_csv({args})"


HIVES_T = table("hives.csv", HIVES, "hives", ["inspected"], {"apiaries.csv": APIARIES})
LOANS_T = table("checkouts.csv", CHECKOUTS, "loans", ["Borrowed"])
GAMES_T = table("games.csv", GAMES, "games")
ROASTS_T = table("roasts.csv", ROASTS, "roasts", ["Roast Date"])
RACE_T = table("marathon.csv", MARATHON, "race")
FERRY_T = table("ferry.csv", FERRY, "ferries", ["depart"], {"routes.csv": ROUTES})
BIRDS_T = table("birds.csv", BIRDS, "birds", ["survey_date"])
WIND_T = table("turbines.csv", TURBINES, "wind", ["date"])
MUSEUM_T = table("museum.csv", MUSEUM, "visits", ["Visit Date"])
REC_T = table("recycling.csv", RECYCLING, "rec", ["week"])
PODS_T = table("podcasts.csv", PODCASTS, "pods", ["release"])

# (table, tags, request, reference, check, earlier turns [(request, code)])
ITEMS = [
    # beekeeping
    (HIVES_T, ["groupby"], "How much honey did each apiary produce in total?",
     'hives.groupby("apiary")["honey_kg"].sum()', "same(result, expected, ordered=False)", []),
    (HIVES_T, ["filter"], "Which inspections found a varroa count of 10 or more?",
     'hives[hives["varroa_count"] >= 10]', "same(result, expected, ordered=False)", []),
    (HIVES_T, ["groupby"], "What's the typical brood frame count per temperament? Use the median.",
     'hives.groupby("temperament")["frames_brood"].median()', "same(result, expected, ordered=False)", []),
    (HIVES_T, ["followup", "dates", "groupby"], "Keep only the 2024 inspections and redo that.",
     'h24 = hives[hives["inspected"].dt.year == 2024]\nh24.groupby("hive_id")["honey_kg"].sum()',
     "same(result, expected, ordered=False)",
     [("honey harvested per hive, all inspections together", 'hives.groupby("hive_id")["honey_kg"].sum()')]),
    (HIVES_T, ["join"], "Attach the region and keeper of each apiary (they're in apiaries.csv) to the inspections.",
     'apiaries = pd.read_csv("apiaries.csv")\nhives.merge(apiaries, on="apiary", how="left")',
     'any(len(f) == 20 and {"region", "keeper"} <= set(f.columns) and sorted(f["keeper"]) == sorted(expected["keeper"]) for f in frames(ns) + [result])',
     []),
    (HIVES_T, ["plot", "groupby"], "Draw a bar chart with the mean honey yield for every apiary.",
     'hives.groupby("apiary")["honey_kg"].mean().plot.bar()',
     'close_list(sorted(bars()), sorted(ns["hives"].groupby("apiary")["honey_kg"].mean()))', []),
    (HIVES_T, ["missing"], "How many inspections are missing a varroa count?",
     'hives["varroa_count"].isna().sum()', "close(values(result)[0] if isinstance(result, pd.Series) and len(result) == 1 else result, 2)", []),
    (HIVES_T, ["inspect"], "give me a quick look at the data types of every column",
     "hives.dtypes", "isinstance(result, pd.Series) and result.equals(expected)", []),
    # library checkouts
    (LOANS_T, ["value_counts"], "Which genre gets borrowed the most?",
     'loans["Genre"].value_counts().idxmax()', 'which(result, ns["loans"]["Genre"].value_counts())', []),
    (LOANS_T, ["groupby", "sort"], "Late fees collected per branch, biggest earner on top",
     'loans.groupby("Branch")["LateFee"].sum().sort_values(ascending=False)', "same(result, expected)", []),
    (LOANS_T, ["dates", "groupby"], "Break the loans down by the month they were borrowed: how many each month?",
     'loans.groupby(loans["Borrowed"].dt.month).size()', "same(result, expected, ordered=False) or close_list(values(result), [4, 4, 5, 5])", []),
    (LOANS_T, ["filter", "scalar"], "For kids' accounts only, how long do books stay out on average?",
     'loans.loc[loans["MemberType"] == "child", "DaysOut"].mean()', "close(result, 14.5)", []),
    (LOANS_T, ["followup", "sort"], "Now flip it so the longest-held genre comes first.",
     'loans.groupby("Genre")["DaysOut"].mean().sort_values(ascending=False)', "same(result, expected)",
     [("mean loan length in days by genre", 'loans.groupby("Genre")["DaysOut"].mean()')]),
    (LOANS_T, ["sort", "top"], "Show me the five loans that were kept out longest.",
     'loans.nlargest(5, "DaysOut")', "same(result, expected, ordered=False)", []),
    # chess
    (GAMES_T, ["value_counts"], "How often did each result occur, as a fraction of all games?",
     'games["result"].value_counts(normalize=True)', "same(result, expected, ordered=False)", []),
    (GAMES_T, ["new_column"], "Add a column rating_gap with white's rating minus black's.",
     'games["rating_gap"] = games["white_elo"] - games["black_elo"]',
     'close_list(ns["games"]["rating_gap"], ns["games"]["white_elo"] - ns["games"]["black_elo"])', []),
    (GAMES_T, ["dates"], "played_on is text right now; make it a real date.",
     'games["played_on"] = pd.to_datetime(games["played_on"])',
     'pd.api.types.is_datetime64_any_dtype(ns["games"]["played_on"])', []),
    (GAMES_T, ["pivot"], "Mean game length in moves for every opening and time control combination, openings down the side",
     'games.pivot_table(index="opening", columns="time_control", values="moves", aggfunc="mean")',
     "same(result, expected, ordered=False)", []),
    (GAMES_T, ["filter"], "Games where both players were rated above 1600",
     'games[(games["white_elo"] > 1600) & (games["black_elo"] > 1600)]', "same(result, expected, ordered=False)", []),
    (GAMES_T, ["corr"], "Is there a relationship between white's rating and number of moves? Give me the correlation coefficient.",
     'games["white_elo"].corr(games["moves"])', "close(result, expected, 1e-3)", []),
    # coffee roasting
    (ROASTS_T, ["new_column"], "What fraction of weight is lost in roasting, batch by batch? Put it in a new column called loss.",
     'roasts["loss"] = 1 - roasts["Roasted (g)"] / roasts["Green (g)"]',
     '"loss" in ns["roasts"] and (close_list(ns["roasts"]["loss"], 1 - ns["roasts"]["Roasted (g)"] / ns["roasts"]["Green (g)"], 1e-3) '
     'or close_list(ns["roasts"]["loss"], 100 * (1 - ns["roasts"]["Roasted (g)"] / ns["roasts"]["Green (g)"]), 1e-2))', []),
    (ROASTS_T, ["missing"], "Two cupping scores are blank; fill them in with the average score of the other batches.",
     'roasts["Cupping Score"] = roasts["Cupping Score"].fillna(roasts["Cupping Score"].mean())',
     'ns["roasts"]["Cupping Score"].notna().all() and close(ns["roasts"]["Cupping Score"].iloc[7], pd.read_csv("roasts.csv")["Cupping Score"].mean(), 1e-6)',
     []),
    (ROASTS_T, ["groupby"], "best-scoring origin on average?",
     'roasts.groupby("Origin")["Cupping Score"].mean().idxmax()', 'which(result, ns["roasts"].groupby("Origin")["Cupping Score"].mean())', []),
    (ROASTS_T, ["groupby", "round"], "average roast time for each roast level, rounded to one decimal",
     'roasts.groupby("Roast Level")["Minutes"].mean().round(1)', "same(result, expected, ordered=False, tol=0.051)", []),
    (ROASTS_T, ["filter"], "Only the Ethiopian and Kenyan batches, please",
     'roasts[roasts["Origin"].isin(["Ethiopia", "Kenya"])]', "same(result, expected, ordered=False)", []),
    (ROASTS_T, ["plot"], "Histogram of the cupping scores, 5 bins",
     'roasts["Cupping Score"].plot.hist(bins=5)', 'close_list(bars(), np.histogram(ns["roasts"]["Cupping Score"].dropna(), bins=5)[0])', []),
    (ROASTS_T, ["inspect"], "how big is this dataset, rows by columns?", "roasts.shape", "tuple(result) == (14, 8)", []),
    # marathon
    (RACE_T, ["missing", "filter"], "Who didn't finish? (no finish time)",
     'race[race["FinishMin"].isna()]', "same(result, expected, ordered=False)", []),
    (RACE_T, ["sort", "top"], "Fastest three finishers with their times",
     'race.nsmallest(3, "FinishMin")[["Runner", "FinishMin"]]',
     'isinstance(result, pd.DataFrame) and list(result["Runner"]) == ["Chen Wei", "Omar Farouk", "Ade Okafor"]', []),
    (RACE_T, ["groupby"], "median finishing time for men and for women",
     'race.groupby("Gender")["FinishMin"].median()', "same(result, expected, ordered=False)", []),
    (RACE_T, ["followup", "plot"], "show that as a horizontal bar chart",
     'race.groupby("AgeGroup")["FinishMin"].mean().plot.barh()',
     'close_list(sorted(bars(horizontal=True)), sorted(ns["race"].groupby("AgeGroup")["FinishMin"].mean()))',
     [("mean finish time per age group", 'race.groupby("AgeGroup")["FinishMin"].mean()')]),
    (RACE_T, ["plot"], "Scatter the half-marathon split against the final time.",
     'race.plot.scatter(x="HalfSplitMin", y="FinishMin")', 'scattered(ns["race"]["HalfSplitMin"], ns["race"]["FinishMin"])', []),
    (RACE_T, ["value_counts", "filter"], "How many runners per country? Just the countries with more than one.",
     'counts = race["Country"].value_counts()\ncounts[counts > 1]', "same(result, expected, ordered=False)", []),
    # ferries
    (FERRY_T, ["groupby"], "What's the worst delay each weather condition produced?",
     'ferries.groupby("weather")["delay_min"].max()', "same(result, expected, ordered=False)", []),
    (FERRY_T, ["dates", "groupby"], "passengers carried per day",
     'ferries.groupby(ferries["depart"].dt.date)["passengers"].sum()',
     "close_list(values(result), [665, 485, 411, 363, 360])", []),
    (FERRY_T, ["dates", "filter"], "Which departures happen in the morning (before noon)?",
     'ferries[ferries["depart"].dt.hour < 12]', "same(result, expected, ordered=False)", []),
    (FERRY_T, ["join"], "Bring in the distance and operator for each route from routes.csv",
     'routes = pd.read_csv("routes.csv")\nferries.merge(routes, on="route", how="left")',
     'any(len(f) == 14 and {"distance_km", "operator"} <= set(f.columns) for f in frames(ns) + [result])', []),
    (FERRY_T, ["followup", "filter", "groupby"], "exclude the foggy crossings and do it again",
     'ferries[ferries["weather"] != "fog"].groupby("route")["delay_min"].mean()', "same(result, expected, ordered=False)",
     [("average delay per route", 'ferries.groupby("route")["delay_min"].mean()')]),
    (FERRY_T, ["plot", "filter"], "Line chart of the vehicles on North Sound crossings over time",
     'ferries[ferries["route"] == "North Sound"].plot(x="depart", y="vehicles")',
     "any(close_list(l, [42, 55, 61, 39, 58, 44]) for l in lines())", []),
    # bird survey
    (BIRDS_T, ["pivot"], "total birds counted for every species at every site, species as columns",
     'birds.pivot_table(index="site", columns="species", values="count", aggfunc="sum")',
     "same(result, expected, ordered=False) or same(result, expected.fillna(0), ordered=False)", []),
    (BIRDS_T, ["groupby"], "how many distinct species did each observer record?",
     'birds.groupby("observer")["species"].nunique()', "same(result, expected, ordered=False)", []),
    (BIRDS_T, ["filter", "sort"], "list the surveys where more than 20 birds of one species were seen, biggest counts first",
     'birds[birds["count"] > 20].sort_values("count", ascending=False)', "same(result, expected)", []),
    (BIRDS_T, ["plot", "groupby"], "Bar plot: total count per site",
     'birds.groupby("site")["count"].sum().plot.bar()',
     'close_list(sorted(bars()), sorted(ns["birds"].groupby("site")["count"].sum()))', []),
    (BIRDS_T, ["inspect"], "give me the tail end of the table, last 4 rows", "birds.tail(4)", "same(result, expected)", []),
    # wind turbines
    (WIND_T, ["dates", "groupby"], "Energy output by month (sum over all turbines)",
     'wind.groupby(wind["date"].dt.month)["output_mwh"].sum()', "same(result, expected, ordered=False) or close_list(values(result), [317.7, 285.9], 1e-6)", []),
    (WIND_T, ["groupby"], "Which turbine had the most downtime overall?",
     'wind.groupby("turbine")["downtime_h"].sum().idxmax()', 'which(result, ns["wind"].groupby("turbine")["downtime_h"].sum())', []),
    (WIND_T, ["corr"], "correlation table between wind speed, output and downtime",
     'wind[["wind_speed", "output_mwh", "downtime_h"]].corr()', "same(result, expected, ordered=False)", []),
    (WIND_T, ["filter"], "days with wind above 9 m/s and no downtime",
     'wind[(wind["wind_speed"] > 9) & (wind["downtime_h"] == 0)]', "same(result, expected, ordered=False)", []),
    (WIND_T, ["describe"], "describe the output column", 'wind["output_mwh"].describe()', "same(result, expected, ordered=False)", []),
    # museum
    (MUSEUM_T, ["groupby"], "revenue per visitor for each ticket type",
     'g = visits.groupby("Ticket Type")[["Revenue", "Visitors"]].sum()\ng["Revenue"] / g["Visitors"]',
     "same(result, expected, ordered=False, tol=1e-3)", []),
    (MUSEUM_T, ["groupby"], "Which gallery drew the most people?",
     'visits.groupby("Gallery")["Visitors"].sum().idxmax()', 'which(result, ns["visits"].groupby("Gallery")["Visitors"].sum())', []),
    (MUSEUM_T, ["dates", "resample"], "weekly visitor totals",
     'visits.resample("W", on="Visit Date")["Visitors"].sum()', "close_list(values(result), [955, 840, 645])", []),
    (MUSEUM_T, ["crosstab"], "How many rows are there per gallery and ticket type? Ticket types across the top.",
     'pd.crosstab(visits["Gallery"], visits["Ticket Type"])',
     "same(result, expected, ordered=False) or (isinstance(result, pd.DataFrame) and same(result.fillna(0), expected, ordered=False))", []),
    (MUSEUM_T, ["followup", "groupby"], "percent of all visitors instead",
     'visits.groupby("Gallery")["Visitors"].sum() / visits["Visitors"].sum() * 100',
     "same(result, expected, ordered=False, tol=0.06) or (isinstance(result, pd.Series) and same(result * 100, expected, ordered=False, tol=0.06))",
     [("total visitors by gallery", 'visits.groupby("Gallery")["Visitors"].sum()')]),
    # recycling
    (REC_T, ["groupby", "multi_agg"], "Tonnes collected per material, and also the mean contamination for each material",
     'rec.groupby("material").agg(tonnes=("tonnes", "sum"), contamination=("contaminated_pct", "mean"))',
     'contains_series(result, ns["rec"].groupby("material")["tonnes"].sum()) and contains_series(result, ns["rec"].groupby("material")["contaminated_pct"].mean())',
     []),
    (REC_T, ["plot", "dates"], "Plot the weekly tonnage trend for paper",
     'rec[rec["material"] == "paper"].groupby("week")["tonnes"].sum().plot()',
     "any(close_list(l, [22.2, 26.1, 10.1], 1e-6) for l in lines())", []),
    (REC_T, ["filter"], "Throw away rows where contamination is above 10 percent",
     'rec = rec[rec["contaminated_pct"] <= 10]',
     'len(ns["rec"]) == 11 and bool((ns["rec"]["contaminated_pct"] <= 10).all())', []),
    (REC_T, ["groupby"], "what's the share of each district in total tonnes?",
     'rec.groupby("district")["tonnes"].sum() / rec["tonnes"].sum()',
     "same(result, expected, ordered=False, tol=1e-3) or (isinstance(result, pd.Series) and same(result / 100, expected, ordered=False, tol=1e-3))", []),
    # podcasts
    (PODS_T, ["groupby"], "Do episodes with a guest get more downloads? Compare the average for guest vs no guest.",
     'pods.groupby("guest")["downloads"].mean()', "same(result, expected, ordered=False)", []),
    (PODS_T, ["sort", "dates"], "Episodes sorted by release date, newest on top",
     'pods.sort_values("release", ascending=False)', "same(result, expected)", []),
    (PODS_T, ["groupby"], "Longest episode of each show",
     'pods.groupby("show")["duration_min"].max()',
     'same(result, expected, ordered=False) or (isinstance(result, pd.DataFrame) and "duration_min" in result and sorted(result["duration_min"]) == sorted(expected))',
     []),
    (PODS_T, ["plot"], "boxplot of downloads for each show",
     'pods.boxplot(column="downloads", by="show")', 'medians_drawn(ns["pods"].groupby("show")["downloads"].median())', []),
    (PODS_T, ["followup", "dates", "filter"], "just for March",
     'pods[pods["release"].dt.month == 3].groupby("show")["downloads"].sum()', "same(result, expected, ordered=False)",
     [("total downloads per show", 'pods.groupby("show")["downloads"].sum()')]),
    (PODS_T, ["dates", "groupby"], "How many episodes came out each month?",
     'pods.groupby(pods["release"].dt.month).size()', "same(result, expected, ordered=False) or close_list(values(result), [4, 6, 2])", []),
]


def main() -> None:
    out = HERE / "data_exploration.jsonl"
    with open(out, "w", encoding="utf-8") as fh:
        for n, ((files, setup), tags, request, reference, check, turns) in enumerate(ITEMS, 1):
            item = {
                "id": f"heldout-de-{n:03d}",
                "files": files,
                "setup": setup,
                "turns": [{"request": r, "code": c} for r, c in turns],
                "request": request,
                "reference": reference,
                "check": check,
                "tags": tags,
            }
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"wrote {len(ITEMS)} items to {out}")


if __name__ == "__main__":
    main()
