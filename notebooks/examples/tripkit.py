"""tripkit: the ops team's helpers for the bike-share trip exports.

    import tripkit as tk
    trips = tk.clean(tk.load_trips("2026-07"))
    st = tk.stations()

Trips come one CSV a month from the dock system (data/trips_<YYYY-MM>.csv); stations from data/stations.csv.
Station ids are the district code plus a number (OT01 is the Corn Exchange). Importing tripkit also sets the
house plot style: small figures, no top/right spines.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

DATA = Path(__file__).resolve().parent / "data"
MONTHS = ["2026-06", "2026-07", "2026-08", "2026-09"]
MAX_MINUTES = 240  # a hire longer than 4 h is a bike that was not locked properly
FIGSIZE = (6, 3)

plt.rcParams.update({"figure.figsize": FIGSIZE, "figure.dpi": 60, "axes.spines.top": False,
                     "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3})


def load_trips(month: str) -> pd.DataFrame:
    """One month of trips ("2026-07"), with started_at and ended_at as datetimes."""
    return pd.read_csv(DATA / f"trips_{month}.csv", parse_dates=["started_at", "ended_at"])


def load_months(months: list[str] | None = None) -> pd.DataFrame:
    """Several months of trips in one frame, with a `month` column ("2026-06"); all months by default."""
    frames = [load_trips(m).assign(month=m) for m in (months or MONTHS)]
    return pd.concat(frames, ignore_index=True)


def stations() -> pd.DataFrame:
    """The station list: station_id, name, district, docks, lat, lon."""
    return pd.read_csv(DATA / "stations.csv")


def add_duration(trips: pd.DataFrame) -> pd.DataFrame:
    """A copy with duration_min (ended_at - started_at, in minutes; NaN for a bike never docked)."""
    out = trips.copy()
    out["duration_min"] = ((out["ended_at"] - out["started_at"]).dt.total_seconds() / 60).round(1)
    return out


def add_calendar(trips: pd.DataFrame) -> pd.DataFrame:
    """A copy with date, hour, weekday (Mon..Sun) and is_weekend, all from started_at."""
    out = trips.copy()
    out["date"] = out["started_at"].dt.normalize()
    out["hour"] = out["started_at"].dt.hour
    out["weekday"] = out["started_at"].dt.strftime("%a")
    out["is_weekend"] = out["started_at"].dt.day_of_week >= 5
    return out


def clean(trips: pd.DataFrame, quiet: bool = False) -> pd.DataFrame:
    """Drops the trips that cannot be real and says how many went: never docked, negative or over-4h durations,
    zero distance (a bike taken out and put straight back). Adds duration_min when it is missing."""
    if "duration_min" not in trips:
        trips = add_duration(trips)
    checks = {
        "never docked": trips["end_station"].isna() | trips["ended_at"].isna(),
        "negative": trips["duration_min"] < 0,
        "over 4h": trips["duration_min"] > MAX_MINUTES,
        "zero distance": trips["distance_km"] == 0,
    }
    bad = pd.concat(checks, axis=1).any(axis=1)
    if not quiet:
        detail = ", ".join(f"{int(m.sum())} {why}" for why, m in checks.items())
        print(f"clean: dropped {int(bad.sum())} of {len(trips)} trips ({detail})")
    return trips[~bad].reset_index(drop=True)


def busiest(trips: pd.DataFrame, n: int = 10, by: str = "start_station") -> pd.DataFrame:
    """The n stations with most trips starting (or, by="end_station", ending) there, with name and district."""
    counts = trips[by].value_counts().head(n).rename_axis("station_id").reset_index(name="trips")
    counts = counts.merge(stations()[["station_id", "name", "district"]], on="station_id", how="left")
    return counts[["station_id", "name", "district", "trips"]]


def hourly(trips: pd.DataFrame, by: str | None = None) -> pd.Series | pd.DataFrame:
    """Trips per hour of day (0-23) by start time; with by="member_type" (or any column) one column per value."""
    hour = trips["started_at"].dt.hour.rename("hour")
    if by is None:
        return hour.value_counts().reindex(range(24), fill_value=0).rename("trips")
    table = trips.groupby([hour, trips[by]]).size().unstack(fill_value=0)
    return table.reindex(range(24), fill_value=0)


def plot_hourly(trips: pd.DataFrame, ax: plt.Axes | None = None, by: str | None = None,
                title: str | None = None) -> plt.Axes:
    """Bar chart of trips per hour of day (lines, one per value, with `by`)."""
    if ax is None:
        _, ax = plt.subplots(figsize=FIGSIZE)
    data = hourly(trips, by=by)
    if by is None:
        data.plot.bar(ax=ax, width=0.8, color="#2a7f62")
    else:
        data.plot(ax=ax, marker=".")
    ax.set_xlabel("hour of day")
    ax.set_ylabel("trips")
    ax.set_title(title or "Trips by hour of day")
    return ax


def rebalancing_need(trips: pd.DataFrame, stations: pd.DataFrame) -> pd.DataFrame:
    """Per station per day: departures, arrivals and net_outflow (departures - arrivals). A station with a
    positive net_outflow empties over the day and needs bikes brought in by the vans."""
    day_out = trips["started_at"].dt.normalize()
    day_in = trips["ended_at"].dt.normalize()
    out = trips.groupby([day_out.rename("date"), trips["start_station"].rename("station_id")]).size()
    arr = trips.groupby([day_in.rename("date"), trips["end_station"].rename("station_id")]).size()
    need = pd.concat({"departures": out, "arrivals": arr}, axis=1).fillna(0).astype(int)
    need["net_outflow"] = need["departures"] - need["arrivals"]
    need = need.reset_index().merge(stations[["station_id", "name", "district", "docks"]], on="station_id")
    return need.sort_values(["date", "net_outflow"], ascending=[True, False]).reset_index(drop=True)


def district_summary(trips: pd.DataFrame, stations: pd.DataFrame) -> pd.DataFrame:
    """One row per district (by start station): stations, docks, trips, trips_per_dock, member_share,
    median distance_km and median duration_min."""
    if "duration_min" not in trips:
        trips = add_duration(trips)
    t = trips.merge(stations[["station_id", "district"]], left_on="start_station", right_on="station_id")
    summary = t.groupby("district").agg(
        trips=("trip_id", "size"),
        member_share=("member_type", lambda s: round((s == "member").mean(), 2)),
        median_km=("distance_km", "median"),
        median_min=("duration_min", "median"),
    ).round(2)
    docks = stations.groupby("district").agg(stations=("station_id", "size"), docks=("docks", "sum"))
    summary = docks.join(summary)
    summary["trips_per_dock"] = (summary["trips"] / summary["docks"]).round(1)
    return summary.sort_values("trips", ascending=False)
