"""Writes and runs the bike-share ops team's example notebooks (notebooks/examples/*.ipynb).

Every notebook's cells are written out below as the analyst wrote them; the monthly ops report and the station
deep-dive are the two the team copies and reruns with another month or station, so those are functions. Each
notebook is executed in a fresh python3 kernel with notebooks/examples as its working folder and saved with its
outputs. Run make_data.py first:

    .venv/bin/python notebooks/examples/make_data.py && .venv/bin/python notebooks/examples/build_notebooks.py

`build_notebooks.py NAME...` rebuilds only the notebooks whose file names start with one of the NAMEs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from textwrap import dedent

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}


def md(text: str) -> tuple[str, str]:
    return ("markdown", dedent(text).strip())


def code(text: str) -> tuple[str, str]:
    return ("code", dedent(text).strip())


def notebook(name: str, *cells: tuple[str, str]) -> None:
    NOTEBOOKS[name] = list(cells)


# --- the monthly ops report: same cells every month, only MONTH and the notes change -------------------------

def ops_report(month: str, title: str, notes: str) -> None:
    notebook(
        f"ops_report_{month}",
        md(f"# Ops report: {title}\n\n{dedent(notes).strip()}"),
        code(f'''
            import pandas as pd
            import tripkit as tk

            MONTH = "{month}"
        '''),
        code('''
            trips = tk.clean(tk.load_trips(MONTH))
            trips = tk.add_calendar(trips)
            st = tk.stations()
        '''),
        code('''
            trips["week"] = trips["date"].dt.to_period("W-SUN").dt.start_time
            weekly = trips.groupby("week").agg(
                trips=("trip_id", "size"),
                days=("date", "nunique"),
                members=("member_type", lambda s: (s == "member").sum()),
                median_min=("duration_min", "median"),
            )
            weekly["per_day"] = (weekly["trips"] / weekly["days"]).round(1)
            weekly
        '''),
        code('''
            daily = trips.groupby("date").size()
            ax = daily.plot(figsize=(6, 3), marker=".")
            ax.set_title(f"Trips per day, {MONTH}")
            ax.set_ylabel("trips");
        '''),
        code('''
            tk.busiest(trips, n=5)
        '''),
        code('''
            tk.plot_hourly(trips, by="member_type", title=f"{MONTH}: trips by hour");
        '''),
        md("Stations the vans had to keep topping up (net outflow over the month's weekdays):"),
        code('''
            need = tk.rebalancing_need(trips[~trips["is_weekend"]], st)
            need.groupby(["station_id", "name"])["net_outflow"].sum().sort_values(ascending=False).head(5)
        '''),
        code('''
            print(f"{MONTH}: {len(trips)} trips, {trips['date'].nunique()} days, "
                  f"{(trips['member_type'] == 'member').mean():.0%} members, "
                  f"median {trips['duration_min'].median():.1f} min, {trips['distance_km'].sum():,.0f} km ridden")
        '''),
    )


ops_report("2026-06", "June 2026", """
    For the Monday ops meeting. Copy of last month's report, only `MONTH` changed.

    June is the first month on the new dock firmware, so the clean-up line is worth reading out: the false
    starts (zero distance) are what the firmware was meant to stop.
""")
ops_report("2026-07", "July 2026", """
    For the Monday ops meeting. Copy of last month's report, only `MONTH` changed.

    Best month so far. The Harbourside stations are now the busiest starts on the network, ahead of the Corn
    Exchange; the vans should keep an eye on Lighthouse Pier at weekends.
""")
ops_report("2026-08", "August 2026", """
    For the Monday ops meeting. Copy of last month's report, only `MONTH` changed.

    School holidays: flatter commute peaks and more casual riders. The raw August export has a few duplicated
    rows (see `data_quality_2026-08`); they are not removed here, so totals are a handful of trips high.
""")
ops_report("2026-09", "September 2026", """
    For the Monday ops meeting. Copy of last month's report, only `MONTH` changed.

    University term started on Monday the 14th: watch the week of the 14th against the first two weeks,
    Castle Hill especially (`term_start_castle_hill_2026-09` has the detail).
""")


# --- the station deep-dive: copied per station ----------------------------------------------------------------

def deepdive(station: str, slug: str, title: str, notes: str, closing: str) -> None:
    notebook(
        f"deepdive_{station}_{slug}",
        md(f"# Station deep-dive: {station} {title}\n\n{dedent(notes).strip()}"),
        code(f'''
            import pandas as pd
            import tripkit as tk

            STATION = "{station}"
        '''),
        code('''
            trips = tk.clean(tk.load_months())
            trips = tk.add_calendar(trips)
            st = tk.stations()
            st[st["station_id"] == STATION]
        '''),
        code('''
            here = trips[(trips["start_station"] == STATION) | (trips["end_station"] == STATION)]
            by_month = pd.DataFrame({
                "starts": trips[trips["start_station"] == STATION].groupby("month").size(),
                "ends": trips[trips["end_station"] == STATION].groupby("month").size(),
            })
            by_month["member_share"] = here.groupby("month")["member_type"].apply(lambda s: (s == "member").mean()).round(2)
            by_month
        '''),
        code('''
            profile = pd.DataFrame({
                "departures": tk.hourly(trips[trips["start_station"] == STATION]),
                "arrivals": trips.loc[trips["end_station"] == STATION, "ended_at"].dt.hour.value_counts()
                .reindex(range(24), fill_value=0),
            })
            ax = profile.loc[5:23].plot(figsize=(6, 3), marker=".")
            ax.set_title(f"{STATION}: departures and arrivals by hour (Jun-Sep)")
            ax.set_xlabel("hour of day");
        '''),
        code('''
            names = st.set_index("station_id")["name"]
            to = trips.loc[trips["start_station"] == STATION, "end_station"].value_counts().head(8)
            to.index = [f"{s} {names[s]}" for s in to.index]
            to
        '''),
        code('''
            need = tk.rebalancing_need(trips, st)
            need = need[need["station_id"] == STATION]
            need["weekday"] = need["date"].dt.strftime("%a")
            need.groupby("weekday")["net_outflow"].mean().reindex(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]).round(1)
        '''),
        md(closing),
    )


deepdive("MB01", "millbrook_station", "Millbrook Station", """
    Rail asked whether we would add docks at Millbrook Station before the timetable change. This is everything
    we have on it, June to September.
""", """
    **Summary for rail:** a commuter station, 80-85% members every month. Departures peak at 7 and 8 (off the
    early trains), arrivals at 8 and again at 17-18. It ends most days with fewer bikes than it started with,
    so the vans top it up every morning. More docks would help the morning more than the evening.
""")
deepdive("HB05", "ferry_terminal", "Ferry Terminal", """
    The ferry company is sponsoring the Harbourside stations from next year and wants a page on the terminal.
    Same cells as the Millbrook deep-dive.
""", """
    **Notes:** a leisure station first, with only a small commuter peak. Late morning to early evening carries
    it, a third of its departures are at weekends, and casual riders are about 60% of its users. Riders from
    here mostly stay on the waterfront (many bring the bike back to the terminal itself), which is the
    sponsorship story.
""")


# --- one-off analyses -------------------------------------------------------------------------------------------

notebook(
    "busiest_stations_2026-07",
    md("""
        # Busiest stations, July 2026

        Marta asked for the sponsorship deck: which stations carry the most hires. Starts and ends are counted
        separately, since the seafront stations are mostly ends in the afternoon.
    """),
    code("""
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-07"))
        st = tk.stations()
    """),
    code("""
        tk.busiest(trips, n=10)
    """),
    code("""
        tk.busiest(trips, n=10, by="end_station")
    """),
    code("""
        by_station = pd.DataFrame({
            "starts": trips["start_station"].value_counts(),
            "ends": trips["end_station"].value_counts(),
        }).fillna(0).astype(int)
        by_station["total"] = by_station["starts"] + by_station["ends"]
        by_station = by_station.join(st.set_index("station_id")[["name", "district", "docks"]])
        by_station = by_station.sort_values("total", ascending=False)
        by_station.head(10)
    """),
    code("""
        top = by_station.head(12).set_index("name")
        ax = top[["starts", "ends"]].plot.barh(stacked=True, figsize=(6, 4))
        ax.invert_yaxis()
        ax.set_title("Top 12 stations, July 2026 (starts + ends)")
        ax.set_ylabel("");
    """),
    code("""
        top10 = by_station.head(10)["total"].sum() / by_station["total"].sum()
        print(f"top 10 of {len(by_station)} stations: {top10:.0%} of all starts and ends")
    """),
    md("""
        For the deck: Ferry Terminal first on starts and ends together, then the Corn Exchange and Lighthouse
        Pier. The top 10 of 40 stations carry half of all starts and ends.
    """),
)

notebook(
    "member_vs_casual_2026-08",
    md("""
        # Members vs casual riders, August 2026

        Pricing review: how differently do members and casual riders use the bikes? August, because it has the
        most casual riders of the summer.
    """),
    code("""
        import matplotlib.pyplot as plt
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-08"))
        trips = tk.add_calendar(trips)
    """),
    code("""
        trips.groupby("member_type").agg(
            trips=("trip_id", "size"),
            median_km=("distance_km", "median"),
            median_min=("duration_min", "median"),
            over_30min=("duration_min", lambda m: round((m > 30).mean(), 2)),
            weekend_share=("is_weekend", lambda w: round(w.mean(), 2)),
        )
    """),
    code("""
        tk.plot_hourly(trips, by="member_type", title="August 2026: members vs casual by hour");
    """),
    code("""
        fig, ax = plt.subplots(figsize=(6, 3))
        for member_type, g in trips.groupby("member_type"):
            g["duration_min"].clip(upper=90).plot.hist(bins=30, alpha=0.6, ax=ax, label=member_type)
        ax.set_xlabel("duration_min (90+ in the last bin)")
        ax.set_title("Trip duration, August 2026")
        ax.legend();
    """),
    code("""
        days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        pd.crosstab(trips["weekday"], trips["member_type"], normalize="index").reindex(days).round(2)
    """),
    code("""
        tk.busiest(trips[trips["member_type"] == "casual"], n=8)
    """),
    md("""
        Casual riders go shorter distances but take longer, mostly in the afternoon and at weekends, and mostly
        from Harbourside and Old Town. Members ride the commute peaks. A 30-minute casual pass would cover about
        three casual trips in five; 45 minutes would cover most of the rest.
    """),
)

notebook(
    "van_plan_week_2026-09-14",
    md("""
        # Van plan for the week of 14 September

        Tom wants next week's van plan. Expected drain per station = mean weekday net outflow over the four
        weeks before (17 August to 11 September), times five weekdays. Flagged where a week's drain is more
        than a third of the station's docks.
    """),
    code("""
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_months(["2026-08", "2026-09"]))
        trips = tk.add_calendar(trips)
        st = tk.stations()
    """),
    code("""
        recent = trips[trips["date"].between("2026-08-17", "2026-09-11") & ~trips["is_weekend"]]
        n_days = recent["date"].nunique()
        print(f"{len(recent)} trips on {n_days} weekdays")
    """),
    code("""
        need = tk.rebalancing_need(recent, st)
        van = (need.groupby(["station_id", "name", "district", "docks"])["net_outflow"].sum() / n_days * 5).round(1)
        van = van.reset_index().sort_values("net_outflow", ascending=False)
        van["bikes_to_bring"] = van["net_outflow"].clip(lower=0).round().astype(int)
        van["flag"] = van["net_outflow"] > van["docks"] / 3
    """),
    code("""
        drop_off = van[van["bikes_to_bring"] >= 2]
        drop_off
    """),
    code("""
        pick_up = van[van["net_outflow"] <= -2].sort_values("net_outflow")
        pick_up[["station_id", "name", "district", "net_outflow"]]
    """),
    code("""
        print(f"bikes to bring: {drop_off['bikes_to_bring'].sum()}, to collect: {-pick_up['net_outflow'].sum():.0f}")
        drop_off.groupby("district")["bikes_to_bring"].sum().sort_values(ascending=False)
    """),
    md("""
        Sent to Tom: the biggest drop-offs are up Castle Hill (riders go down the hill and do not ride back up);
        the rest is two or three bikes a station. Collect from Old Town (Tannery Square, Lantern Yard, Corn
        Exchange) and Lighthouse Pier. Nothing flagged. Term starts on the 14th, so Castle Hill will need more
        than this; rerun on Wednesday with the first days of term.
    """),
)

notebook(
    "rebalancing_patterns_2026-06",
    md("""
        # Where the bikes go: morning and evening imbalance, June 2026

        Before we redraw the van routes: which stations drain in the morning and which in the evening, on
        weekdays. Net outflow = departures - arrivals.
    """),
    code("""
        import matplotlib.pyplot as plt
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        june = tk.clean(tk.load_trips("2026-06"))
        june = tk.add_calendar(june)
        st = tk.stations()
        weekdays = june[~june["is_weekend"]]
    """),
    code("""
        am = tk.rebalancing_need(weekdays[weekdays["hour"] < 12], st)
        pm = tk.rebalancing_need(weekdays[weekdays["hour"] >= 15], st)
        n_days = weekdays["date"].nunique()
        by_station = pd.DataFrame({
            "am": am.groupby("station_id")["net_outflow"].sum() / n_days,
            "pm": pm.groupby("station_id")["net_outflow"].sum() / n_days,
        }).fillna(0).round(2)
        by_station = by_station.join(st.set_index("station_id")[["name", "district"]])
        by_station.sort_values("am", ascending=False).head(8)
    """),
    code("""
        by_station.sort_values("am").head(8)
    """),
    code("""
        fig, ax = plt.subplots(figsize=(5, 4))
        for district, g in by_station.groupby("district"):
            ax.scatter(g["am"], g["pm"], label=district, s=20)
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel("morning net outflow per day")
        ax.set_ylabel("evening net outflow per day")
        ax.set_title("Weekday imbalance by station, June 2026")
        ax.legend(fontsize=7);
    """),
    code("""
        by_station.groupby("district")[["am", "pm"]].sum().round(1).sort_values("am", ascending=False)
    """),
    md("""
        The commute shows up clearly: Millbrook, Northgate and Eastfield drain in the morning and refill in the
        evening, Old Town the other way round. Castle Hill drains morning and evening alike: nobody rides up the
        hill. The van routes should run residential to centre before 8 and back after 17, with a Castle Hill
        top-up on both runs.
    """),
)

notebook(
    "district_comparison_2026-07",
    md("""
        # District comparison, July 2026

        For the council's transport committee: how each district uses the scheme, per dock, so that small
        districts are not penalised for having fewer stations.
    """),
    code("""
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-07"))
        trips = tk.add_calendar(trips)
        st = tk.stations()
    """),
    code("""
        summary = tk.district_summary(trips, st)
        summary
    """),
    code("""
        ax = summary["trips_per_dock"].sort_values().plot.barh(figsize=(6, 3), color="#2a7f62")
        ax.set_title("Trips started per dock, July 2026")
        ax.set_ylabel("");
    """),
    code("""
        t = trips.merge(st[["station_id", "district"]], left_on="start_station", right_on="station_id")
        pd.crosstab(t["district"], t["is_weekend"], normalize="index").round(2).rename(
            columns={False: "weekday", True: "weekend"})
    """),
    code("""
        june = tk.clean(tk.load_trips("2026-06"), quiet=True)
        change = summary["trips"] / tk.district_summary(june, st)["trips"] - 1
        change.sort_values(ascending=False).map("{:+.0%}".format)
    """),
    md("""
        Harbourside and Old Town lead on every measure of volume; the outer districts (Millbrook, Northgate,
        Eastfield) are almost all members, i.e. commuters, and their trips are longer. Eastfield has the lowest
        use per dock and is the one to raise at the committee.
    """),
)

notebook(
    "trip_lengths_2026-06",
    md("""
        # Trip length distribution, June 2026

        How long and how far do people ride? Needed for the battery spec of the e-bike trial and for the
        30-minute pricing question.
    """),
    code("""
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-06"))
        trips[["distance_km", "duration_min"]].describe().round(1)
    """),
    code("""
        ax = trips["distance_km"].plot.hist(bins=40, figsize=(6, 3), color="#2a7f62")
        ax.set_xlabel("distance_km")
        ax.set_title("Trip distance, June 2026");
    """),
    code("""
        bands = pd.cut(trips["duration_min"], [0, 10, 20, 30, 45, 60, 120, 240])
        pd.crosstab(bands, trips["member_type"], normalize="columns").round(3)
    """),
    code("""
        trips.groupby("member_type")["duration_min"].quantile([0.5, 0.9, 0.99]).unstack().round(1)
    """),
    code("""
        long = trips[trips["duration_min"] > 60]
        print(f"{len(long)} trips over an hour ({len(long) / len(trips):.1%})")
        tk.busiest(long, n=5)
    """),
    md("""
        Nearly all trips are under 10 km, so the e-bike battery is not the constraint. Over 30 minutes is rare
        for members and common for casual riders; the hour-plus trips start on the waterfront.
    """),
)

notebook(
    "weekend_vs_weekday_2026-08",
    md("""
        # Weekend vs weekday, August 2026

        Staffing the weekend shift: is the weekend busier or just different?
    """),
    code("""
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-08"))
        trips = tk.add_calendar(trips)
    """),
    code("""
        daily = trips.groupby(["date", "is_weekend"]).size().rename("trips").reset_index()
        daily.groupby("is_weekend")["trips"].describe().round(1)
    """),
    code("""
        profile = tk.hourly(trips, by="is_weekend")
        profile = (profile / profile.sum()).rename(columns={False: "weekday", True: "weekend"})
        ax = profile.loc[5:23].plot(figsize=(6, 3), marker=".")
        ax.set_title("Share of the day's trips by hour, August 2026")
        ax.set_xlabel("hour of day");
    """),
    code("""
        trips.groupby("is_weekend").agg(
            member_share=("member_type", lambda s: round((s == "member").mean(), 2)),
            median_min=("duration_min", "median"),
            median_km=("distance_km", "median"),
        )
    """),
    code("""
        weekend = tk.busiest(trips[trips["is_weekend"]], n=6)
        weekday = tk.busiest(trips[~trips["is_weekend"]], n=6)
        pd.concat({"weekend": weekend[["name", "trips"]], "weekday": weekday[["name", "trips"]]}, axis=1)
    """),
    md("""
        Per day the weekend is a bit quieter than a weekday, but the trips are spread over the middle of the
        day instead of two peaks, and more of them are casual: shorter in distance, as long in time. The weekend shift needs people at Harbourside, not at the
        commuter stations.
    """),
)

notebook(
    "month_over_month_2026",
    md("""
        # Month over month, June to September 2026

        For the quarterly board pack. Months have different lengths, so growth is on trips per day.
    """),
    code("""
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_months())
        trips = tk.add_calendar(trips)
    """),
    code("""
        monthly = trips.groupby("month").agg(
            trips=("trip_id", "size"),
            days=("date", "nunique"),
            members=("member_type", lambda s: (s == "member").sum()),
            km=("distance_km", "sum"),
        )
        monthly["per_day"] = (monthly["trips"] / monthly["days"]).round(1)
        monthly["growth"] = monthly["per_day"].pct_change().map("{:+.1%}".format, na_action="ignore")
        monthly["km"] = monthly["km"].round()
        monthly
    """),
    code("""
        by_type = trips.groupby(["month", "member_type"]).size().unstack()
        ax = by_type.plot.bar(stacked=True, figsize=(6, 3), rot=0)
        ax.set_title("Trips by month and member type")
        ax.set_xlabel("");
    """),
    code("""
        st = tk.stations()
        t = trips.merge(st[["station_id", "district"]], left_on="start_station", right_on="station_id")
        pivot = t.pivot_table(index="district", columns="month", values="trip_id", aggfunc="size")
        pivot
    """),
    code("""
        weekly = trips.groupby(trips["date"].dt.to_period("W-SUN").dt.start_time).size()
        ax = weekly.iloc[1:-1].plot(figsize=(6, 3), marker="o")
        ax.set_title("Trips per full week")
        ax.set_xlabel("week starting");
    """),
    md("""
        July was the peak. August kept the casual riders and lost commuters (holidays); September brings the
        commuters and the students back. The first and last weeks are partial and left out of the weekly plot.
    """),
)

notebook(
    "dock_utilisation_2026-09",
    md("""
        # Dock utilisation, September 2026

        Capital plan: which stations are too small and which have docks nobody uses? Utilisation here is
        turns per dock per day: (starts + ends) / docks / days in the month.
    """),
    code("""
        import matplotlib.pyplot as plt
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-09"))
        st = tk.stations()
        n_days = trips["started_at"].dt.normalize().nunique()
    """),
    code("""
        by_station = st.set_index("station_id")[["name", "district", "docks"]].copy()
        by_station["starts"] = trips["start_station"].value_counts()
        by_station["ends"] = trips["end_station"].value_counts()
        by_station = by_station.fillna(0)
        by_station["turns_per_dock"] = ((by_station["starts"] + by_station["ends"]) / by_station["docks"] / n_days).round(2)
        by_station["turns_per_dock"].describe().round(2)
    """),
    code("""
        by_station.sort_values("turns_per_dock", ascending=False).head(6)
    """),
    code("""
        by_station.sort_values("turns_per_dock").head(6)
    """),
    code("""
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.scatter(by_station["docks"], by_station["starts"] + by_station["ends"], s=15)
        for sid, row in by_station[by_station["turns_per_dock"] >= 0.2].iterrows():
            ax.annotate(sid, (row["docks"], row["starts"] + row["ends"]), fontsize=7)
        ax.set_xlabel("docks")
        ax.set_ylabel("starts + ends")
        ax.set_title("Use against size, September 2026");
    """),
    code("""
        by_station.groupby("district")[["docks", "starts", "ends"]].sum().assign(
            turns_per_dock=lambda d: ((d["starts"] + d["ends"]) / d["docks"] / n_days).round(2)
        ).sort_values("turns_per_dock", ascending=False)
    """),
    md("""
        Even the busiest stations turn each dock over less than once every three days, so nothing is too small
        yet. Most used: Lighthouse Pier and Ferry Terminal (labelled), then Market Cross, Tannery Square and
        Castle Hill Top. Candidates to shrink: Eastfield (Plough Lane, Eastfield Depot) and Sawyers Close. Docks
        moved, not bought.
    """),
)

notebook(
    "data_quality_2026-08",
    md("""
        # Data quality check: August 2026 export

        The August trip count came out higher than the dashboard's. Looking at the raw export before
        `tk.clean` touches it.
    """),
    code("""
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        raw = tk.load_trips("2026-08")
        st = tk.stations()
        print(raw.shape)
        raw.isna().sum()
    """),
    code("""
        dups = raw[raw.duplicated(keep=False)].sort_values("trip_id")
        print(f"{raw['trip_id'].duplicated().sum()} duplicated trip_ids, {raw.duplicated().sum()} fully duplicated rows")
        dups.head(6)
    """),
    code("""
        raw = raw.drop_duplicates()
        known = set(st["station_id"])
        print("unknown start stations:", set(raw["start_station"]) - known)
        print("unknown end stations:", set(raw["end_station"].dropna()) - known)
    """),
    code("""
        dur = tk.add_duration(raw)
        dur["duration_min"].describe().round(1)
    """),
    code("""
        dur[(dur["duration_min"] < 0) | (dur["duration_min"] > tk.MAX_MINUTES)].head(8)
    """),
    code("""
        speed = dur["distance_km"] / (dur["duration_min"] / 60)
        print(f"trips faster than 30 km/h: {(speed > 30).sum()}")
        trips = tk.clean(raw)
    """),
    md("""
        Findings, sent to the dock-system supplier: 7 rows of the export are exact duplicates (same trip_id),
        which explains the difference with the dashboard. The rest is the usual: zero-distance false starts, a
        few bikes never docked and locks closed hours late, plus a handful of negative durations from the dock
        clock. No unknown station ids. Until the export is fixed, drop duplicates before `tk.clean` for August.
    """),
)

notebook(
    "hour_heatmap_2026-07",
    md("""
        # Hour-of-day by weekday heatmap, July 2026

        One picture of when the network is busy, for the new staff induction pack.
    """),
    code("""
        import matplotlib.pyplot as plt
        import tripkit as tk

        DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-07"))
        trips = tk.add_calendar(trips)
    """),
    code("""
        grid = trips.pivot_table(index="weekday", columns="hour", values="trip_id", aggfunc="size", fill_value=0)
        grid = grid.reindex(index=DAYS, columns=range(5, 24), fill_value=0)
        grid.iloc[:, 2:14]
    """),
    code("""
        fig, ax = plt.subplots(figsize=(6, 3))
        im = ax.imshow(grid, aspect="auto", cmap="YlGnBu")
        ax.set_yticks(range(len(DAYS)), DAYS)
        ax.set_xticks(range(0, grid.shape[1], 2), grid.columns[::2])
        ax.set_xlabel("hour of day")
        ax.grid(False)
        fig.colorbar(im, ax=ax, label="trips")
        ax.set_title("Trips by weekday and hour, July 2026");
    """),
    code("""
        casual = trips[trips["member_type"] == "casual"]
        grid_casual = casual.pivot_table(index="weekday", columns="hour", values="trip_id", aggfunc="size", fill_value=0)
        grid_casual = grid_casual.reindex(index=DAYS, columns=range(5, 24), fill_value=0)
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.imshow(grid_casual, aspect="auto", cmap="OrRd")
        ax.set_yticks(range(len(DAYS)), DAYS)
        ax.set_xticks(range(0, grid_casual.shape[1], 2), grid_casual.columns[::2])
        ax.grid(False)
        ax.set_title("Casual riders only");
    """),
    code("""
        grid.idxmax(axis=1).rename("peak hour")
    """),
    md("""
        Weekdays: two peaks, 7-8 and 17. Weekends: one broad hump from late morning to mid afternoon, which is
        also when the casual riders are out on weekdays. Mondays start quieter than the rest of the week.
    """),
)

notebook(
    "fleet_usage_2026-09",
    md("""
        # Fleet usage, September 2026

        Workshop planning: how hard is each bike worked, and which bikes have not moved? The fleet is B1001 to
        B1120.
    """),
    code("""
        import pandas as pd
        import tripkit as tk

        FLEET = [f"B{n}" for n in range(1001, 1121)]
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-09"))
    """),
    code("""
        per_bike = trips.groupby("bike_id").agg(
            trips=("trip_id", "size"),
            km=("distance_km", "sum"),
            hours=("duration_min", lambda m: round(m.sum() / 60, 1)),
            last_seen=("ended_at", "max"),
        )
        per_bike["km"] = per_bike["km"].round(1)
        per_bike.describe().round(1)
    """),
    code("""
        ax = per_bike["km"].plot.hist(bins=25, figsize=(6, 3), color="#2a7f62")
        ax.set_xlabel("km ridden in September")
        ax.set_title("Distance per bike, September 2026");
    """),
    code("""
        unused = sorted(set(FLEET) - set(per_bike.index))
        print(f"{len(unused)} bikes with no trips in September:", unused)
    """),
    code("""
        idle = per_bike[per_bike["last_seen"] < "2026-09-21"].sort_values("last_seen")
        idle[["trips", "km", "last_seen"]]
    """),
    code("""
        per_bike.sort_values("km", ascending=False).head(10)
    """),
    md("""
        The workshop gets the idle list (last seen before the 21st: check they are not parked broken at a
        dock) and the top ten by km for the brake check.
    """),
)

notebook(
    "od_districts_2026-07",
    md("""
        # Origin-destination between districts, July 2026

        Where do trips from each district go? Input to the cycle-lane bid: the busiest district pairs are the
        corridors to argue for.
    """),
    code("""
        import matplotlib.pyplot as plt
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-07"))
        trips = tk.add_calendar(trips)
        st = tk.stations()
        district = st.set_index("station_id")["district"]
        trips["from_district"] = trips["start_station"].map(district)
        trips["to_district"] = trips["end_station"].map(district)
    """),
    code("""
        od = pd.crosstab(trips["from_district"], trips["to_district"])
        od
    """),
    code("""
        pd.crosstab(trips["from_district"], trips["to_district"], normalize="index").round(2)
    """),
    code("""
        peak = trips[~trips["is_weekend"] & trips["hour"].between(7, 9)]
        od_peak = pd.crosstab(peak["from_district"], peak["to_district"])
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.imshow(od_peak, cmap="Blues")
        ax.set_xticks(range(len(od_peak.columns)), od_peak.columns, rotation=45, ha="right")
        ax.set_yticks(range(len(od_peak.index)), od_peak.index)
        ax.grid(False)
        ax.set_xlabel("to")
        ax.set_ylabel("from")
        ax.set_title("Weekday 7-10am trips, July 2026");
    """),
    code("""
        between = trips[trips["from_district"] != trips["to_district"]]
        pairs = between.groupby(["from_district", "to_district"]).size().sort_values(ascending=False)
        pairs.head(8)
    """),
    md("""
        Harbourside trips mostly stay on the waterfront (half of them); from everywhere else Old Town is the
        biggest destination. The busiest pairs between districts are Harbourside-Old Town both ways, then
        Castle Hill and Millbrook into Old Town: those are the corridors for the bid.
    """),
)

notebook(
    "harbourside_weekends_summer_2026",
    md("""
        # Harbourside weekends, summer 2026

        The harbour festival organisers want to know what a normal summer weekend looks like at our seven
        Harbourside stations (HB01-HB07), June to August.
    """),
    code("""
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        summer = tk.clean(tk.load_months(["2026-06", "2026-07", "2026-08"]))
        summer = tk.add_calendar(summer)
        hb = summer[summer["start_station"].str.startswith("HB")]
        print(f"{len(hb)} trips from Harbourside, {len(hb) / len(summer):.0%} of the summer")
    """),
    code("""
        weekend = hb[hb["is_weekend"]]
        per_day = weekend.groupby("date").size()
        print(f"{per_day.size} weekend days, {per_day.mean():.1f} trips a day from Harbourside (max {per_day.max()})")
        weekend["member_type"].value_counts(normalize=True).round(2)
    """),
    code("""
        tk.plot_hourly(weekend, by="member_type", title="Harbourside weekend trips by hour, Jun-Aug");
    """),
    code("""
        st = tk.stations()
        names = st.set_index("station_id")["name"]
        by_station = weekend.groupby("start_station").agg(
            trips=("trip_id", "size"),
            casual_share=("member_type", lambda s: round((s == "casual").mean(), 2)),
            round_trip_share=("end_station", lambda e: round((e == weekend.loc[e.index, "start_station"]).mean(), 2)),
        )
        by_station.index = by_station.index.map(lambda s: f"{s} {names[s]}")
        by_station.sort_values("trips", ascending=False)
    """),
    code("""
        weekly = weekend.groupby([weekend["date"].dt.to_period("W-SUN").dt.start_time, "month"]).size()
        weekly.groupby("month").mean().round(1).rename("trips per weekend")
    """),
    md("""
        A summer weekend at Harbourside is casual riders from late morning to early evening, peaking mid
        afternoon, with the pier and the terminal taking half of it. For the festival weekend we should expect
        more than the busiest weekend here and put a van on standby at Lighthouse Pier.
    """),
)

notebook(
    "term_start_castle_hill_2026-09",
    md("""
        # University term start at Castle Hill, September 2026

        Term started on Monday 14 September. How much did Castle Hill (CH01-CH06) change, and do the vans need
        a new route?
    """),
    code("""
        import pandas as pd
        import tripkit as tk

        TERM_START = pd.Timestamp("2026-09-14")
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-09"))
        trips = tk.add_calendar(trips)
        ch = trips[trips["start_station"].str.startswith("CH") | trips["end_station"].str.startswith("CH")]
        ch = ch.assign(term=ch["date"] >= TERM_START)
    """),
    code("""
        daily = ch.groupby("date").size()
        ax = daily.plot(figsize=(6, 3), marker=".")
        ax.axvline(TERM_START, color="red", ls="--", lw=1)
        ax.set_title("Trips touching Castle Hill per day, September 2026")
        ax.set_ylabel("trips");
    """),
    code("""
        days = ch.groupby(["term", "is_weekend"])["date"].nunique()
        per_day = (ch.groupby(["term", "is_weekend"]).size() / days).round(1).unstack()
        per_day.rename(index={False: "before term", True: "term"}, columns={False: "weekday", True: "weekend"})
    """),
    code("""
        before = tk.busiest(ch[~ch["term"] & ch["start_station"].str.startswith("CH")], n=6)
        after = tk.busiest(ch[ch["term"] & ch["start_station"].str.startswith("CH")], n=6)
        before.merge(after, on=["station_id", "name", "district"], how="outer", suffixes=("_before", "_term"))
    """),
    code("""
        tk.plot_hourly(ch[ch["term"] & ~ch["is_weekend"]], title="Castle Hill, term weekdays, by hour");
    """),
    md("""
        Castle Hill is clearly busier from the 14th: weekday trips nearly doubled. All six stations are up,
        Castle Hill Top and University Main Gate most (the counts cover 13 days before and 17 days of term).
        The vans need a Castle Hill top-up every weekday from next week.
    """),
)

notebook(
    "daily_dips_2026-07_08",
    md("""
        # Days with unusually few trips, July-August 2026

        There is no weather feed in the export, but the rain days Jo sent from the Met Office should show up as
        dips. Dip = a day under 70% of the median of the same weekday type (weekday/weekend) that month.
    """),
    code("""
        import matplotlib.pyplot as plt
        import pandas as pd
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_months(["2026-07", "2026-08"]))
        trips = tk.add_calendar(trips)
        daily = trips.groupby(["month", "date", "is_weekend"]).size().rename("trips").reset_index()
    """),
    code("""
        daily["typical"] = daily.groupby(["month", "is_weekend"])["trips"].transform("median")
        daily["ratio"] = (daily["trips"] / daily["typical"]).round(2)
        dips = daily[daily["ratio"] < 0.7]
        dips
    """),
    code("""
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(daily["date"], daily["trips"], marker=".", lw=1)
        ax.scatter(dips["date"], dips["trips"], color="red", zorder=3, label="dip")
        ax.set_title("Trips per day, July-August 2026")
        ax.legend();
    """),
    code("""
        dip_days = trips["date"].isin(dips["date"])
        trips.groupby(dip_days)["member_type"].value_counts(normalize=True).unstack().round(2).rename(
            index={False: "normal days", True: "dip days"})
    """),
    md("""
        The dips match the rain days on Jo's list. On dip days casual riders fall away more than members, as
        expected: commuters still ride, visitors do not.
    """),
)

notebook(
    "round_trips_2026-08",
    md("""
        # Round trips (same start and end station), August 2026

        Round trips are the leisure product: people hire a bike, ride around and bring it back. Marketing wants
        to know where they happen before they print the "ride the harbour loop" leaflets.
    """),
    code("""
        import matplotlib.pyplot as plt
        import tripkit as tk
    """),
    code("""
        trips = tk.clean(tk.load_trips("2026-08"))
        trips = tk.add_calendar(trips)
        trips["round_trip"] = trips["start_station"] == trips["end_station"]
        print(f"{trips['round_trip'].sum()} round trips, {trips['round_trip'].mean():.1%} of August")
    """),
    code("""
        trips.groupby("member_type")["round_trip"].mean().round(3)
    """),
    code("""
        rt = trips[trips["round_trip"]]
        tk.busiest(rt, n=8)
    """),
    code("""
        fig, ax = plt.subplots(figsize=(6, 3))
        trips.loc[~trips["round_trip"], "duration_min"].clip(upper=120).plot.hist(bins=30, alpha=0.6, density=True, ax=ax, label="A to B")
        rt["duration_min"].clip(upper=120).plot.hist(bins=30, alpha=0.6, density=True, ax=ax, label="round trip")
        ax.set_xlabel("duration_min")
        ax.set_title("Round trips are longer, August 2026")
        ax.legend();
    """),
    code("""
        rt.groupby("is_weekend")[["distance_km", "duration_min"]].median()
    """),
    md("""
        Round trips are almost all casual riders, at the leisure stations (Ferry Terminal, Lighthouse Pier,
        Market Cross, Saltings Park, Castle Hill Top), and take about twice as long as A-to-B trips. The leaflets go to Harbourside first.
    """),
)

notebook(
    "stations_overview",
    md("""
        # Station network overview

        Reference notebook for new starters: the 40 stations, their districts and docks. Station ids are the
        district code plus a number (OT = Old Town, HB = Harbourside, MB = Millbrook, NG = Northgate,
        CH = Castle Hill, EF = Eastfield).
    """),
    code("""
        import matplotlib.pyplot as plt
        import tripkit as tk
    """),
    code("""
        st = tk.stations()
        st.head(8)
    """),
    code("""
        st.groupby("district").agg(stations=("station_id", "size"), docks=("docks", "sum"),
                                   smallest=("docks", "min"), largest=("docks", "max"))
    """),
    code("""
        fig, ax = plt.subplots(figsize=(5, 4))
        for district, g in st.groupby("district"):
            ax.scatter(g["lon"], g["lat"], s=g["docks"] * 2, label=district, alpha=0.7)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=7, loc="lower left")
        ax.set_title("Stations (size = docks)");
    """),
    code("""
        st[st["docks"] >= 26][["station_id", "name", "district", "docks"]]
    """),
)


# --- running and saving ----------------------------------------------------------------------------------------

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def build(name: str, cells: list[tuple[str, str]]) -> tuple[int, float]:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.cells = [nbformat.v4.new_markdown_cell(s) if kind == "markdown" else nbformat.v4.new_code_cell(s)
                for kind, s in cells]
    for i, cell in enumerate(nb.cells):  # stable ids, so a rebuild only changes what really changed
        cell["id"] = f"{name[:40]}-{i}".replace("_", "-")
    start = time.perf_counter()
    client = NotebookClient(nb, kernel_name="python3", timeout=180, record_timing=False,
                            resources={"metadata": {"path": str(HERE)}})
    client.execute()
    nbformat.validate(nb)
    nbformat.write(nb, HERE / f"{name}.ipynb")
    return sum(c.cell_type == "code" for c in nb.cells), time.perf_counter() - start


def main(prefixes: list[str]) -> None:
    names = [n for n in NOTEBOOKS if not prefixes or any(n.startswith(p) for p in prefixes)]
    if not (HERE / "data" / "stations.csv").is_file():
        sys.exit("no data/stations.csv: run make_data.py first")
    total = time.perf_counter()
    for name in names:
        n_code, seconds = build(name, NOTEBOOKS[name])
        print(f"{name}.ipynb: {n_code} code cells, {seconds:.1f} s", flush=True)
    print(f"{len(names)} notebooks in {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
