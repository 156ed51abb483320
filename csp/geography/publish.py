"""Publishing geography, population and the derived areas table together.

Everything is computed before anything is published, so a bad input changes nothing. Then
population, geography and areas are published in that order (each atomically, by csp.store),
and police data is re-geocoded when the geography changed. ``areas`` is rebuilt every time
either of the other two is published, in the same call.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import polars as pl

from .. import config, store
from . import areas as areas_mod
from . import population as pop_mod


@dataclass
class Published:
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    regeocoded: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = ["Published " + (", ".join(f"{k} {v}" for k, v in self.versions.items()) or "nothing")]
        lines += [f"  {n}" for n in self.notes]
        if self.regeocoded:
            lines.append("  police data re-geocoded: " + ", ".join(f"{k} {v}" for k, v in self.regeocoded.items()))
        return "\n".join(lines)


def current_frame(name: str) -> pl.DataFrame | None:
    v = store.current(name)
    return pl.read_parquet(v.files) if v is not None else None


def with_population(geo: pl.DataFrame, pop: pl.DataFrame) -> pl.DataFrame:
    """geography.population: the newest population held for exactly that LSOA code (kept while
    queries still read it there; ``areas`` is where rates should take their denominators)."""
    latest = pop.filter(pl.col("area_level") == "lsoa").sort("year", descending=True) \
        .unique("area_code", keep="first").select(pl.col("area_code").alias("lsoa_code"),
                                                  pl.col("population").cast(pl.Int64))
    base = geo.drop("population") if "population" in geo.columns else geo
    return base.join(latest, on="lsoa_code", how="left", maintain_order="left")


@dataclass
class Frames:
    """What one import would publish (None: left as it is)."""
    population: pl.DataFrame | None
    geography: pl.DataFrame | None
    areas: pl.DataFrame | None

    def items(self):
        return [(n, f) for n, f in (("population", self.population), ("geography", self.geography),
                                    ("areas", self.areas)) if f is not None]


def prepare(geography: pl.DataFrame | None, new_population: list[pl.DataFrame],
            base: dict[str, pl.DataFrame | None] | None = None) -> Frames:
    """The frames to publish for a new geography and/or new population rows, on top of what is
    published now (``base``: name -> current frame, read here when not given)."""
    base = base if base is not None else {n: current_frame(n) for n in ("population", "geography")}
    pop_now = base.get("population")
    pop = pop_now
    for new in new_population:
        pop = pop_mod.merge(pop, new)
    pop_changed = bool(new_population)
    if pop is None:
        pop = pop_mod.empty()
    geo_now = base.get("geography")
    if geo_now is not None and "current_lsoa_code" not in geo_now.columns:
        geo_now = upgrade(geo_now)
    geo = geography if geography is not None else geo_now
    geo_out = areas = None
    if geo is not None:
        geo_out = with_population(geo, pop)
        if geography is None and geo_now is not None and _same(geo_out, base.get("geography")):
            geo_out = None  # nothing changed in it
        areas = areas_mod.build(geo, pop)
    return Frames(pop if pop_changed else None, geo_out, areas)


def _same(a: pl.DataFrame, b: pl.DataFrame | None) -> bool:
    if b is None or set(a.columns) != set(b.columns):
        return False
    return a.sort("lsoa_code").equals(b.select(a.columns).sort("lsoa_code"))


def upgrade(geo: pl.DataFrame) -> pl.DataFrame:
    """A geography published before vintages (lsoa_code, ward_code, district_code, names): each
    code is its own current LSOA, of the vintage its code range says."""
    from . import codes

    return geo.with_columns(
        pl.when(codes.new_in_2021(pl.col("lsoa_code"))).then(pl.lit("2021")).otherwise(pl.lit("2011")).alias("lsoa_vintage"),
        pl.col("lsoa_code").alias("current_lsoa_code"),
        pl.lit("as published before LSOA vintages were recorded").alias("fit"),
    ).select(*build_columns())


def build_columns() -> list[str]:
    from .build import COLUMNS

    return COLUMNS


def write(frames: Frames, published_by: str, source: str, checksum: str | None = None,
          validation: dict | None = None, regeocode_police: bool = True) -> Published:
    out = Published()
    tmpdir = config.data_dir() / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        staged = tmpdir / f"{name}-{uuid.uuid4().hex}.parquet"
        frame.write_parquet(staged)
        try:
            v = store.publish(name, relation_sql="SELECT * FROM read_parquet($f)", params={"f": str(staged)},
                              published_by=published_by, source=source, source_checksum=checksum,
                              validation=validation or {})
        finally:
            staged.unlink(missing_ok=True)
        store.record_event(name, {"event": "publish", "by": published_by, "version": v.version, "file": source})
        out.versions[name] = v.version
    if frames.geography is not None and regeocode_police:
        out.regeocoded = regeocode(published_by)
    return out


def regeocode(published_by: str = "cli") -> dict[str, str]:
    """Re-derive ward and district codes of published police data from the current lookup."""
    geo = store.current("geography")
    names = [n for n in ("crime", "asb") if store.current(n) is not None] if geo is not None else []
    if not names:
        return {}
    # Crime and ASB are re-coded as one change (store.atomic): served together or not at all.
    with store.atomic(names, by=published_by) as change:
        for name in names:
            cur = store.current(name)
            store.publish(
                name,
                relation_sql="SELECT n.* EXCLUDE (ward_code, district_code), g.ward_code, g.district_code "
                             "FROM read_parquet($old) n LEFT JOIN read_parquet($geo) g USING (lsoa_code)",
                params={"old": cur.files, "geo": geo.files},
                published_by=published_by, source=f"{name} {cur.version} re-geocoded to geography {geo.version}",
            )
    return {n: v.version for n, v in change.versions.items()}
