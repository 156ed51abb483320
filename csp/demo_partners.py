"""Demo data for Fenmouth from the other partners (issue 15): fire and rescue, the council, health,
youth justice and housing, plus the police extract's domestic-abuse and hate-crime flags.

Like csp.demo, everything is drawn from ``numpy.random.default_rng`` seeded from the ``seed``
argument, one independent sub-stream per dataset (streams 20 onwards, so nothing here shifts the
police, probation or health draws); the same seed and end month give identical frames.

Volumes follow published national rates scaled to Fenmouth's ~190,000 residents (fires: Home
Office fire statistics; fly-tipping: DEFRA; assaults in A&E: the Cardiff Model literature; first-
time entrants and youth reoffending: Youth Justice Board and MoJ). The stories, so each dashboard
has something to find:

* deliberate secondary fires peak in the spring and around bonfire night, worst in Marsh End and
  Harbourside; deliberate vehicle fires cluster in Marsh End and rise in the last year;
* council ASB follows the police ASB hotspots (Harbourside, St Botolph's), with neighbour disputes
  on the estates; fly-tipping is heaviest in the back alleys of St Botolph's and Westgate and on
  farm land in the fen wards;
* A&E assaults peak on weekend nights in licensed premises; knife assaults rise in the last year;
* housing ASB cases come from the provider's estates (Marsh End, Kingsmead, Westgate, Eastfield),
  with cases closed a few months after they opened;
* first-time entrants fall slowly (diversion), and youth cohorts are small: plenty of small cells.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from . import demo as d

DATASETS = ("fires", "council_asb", "environmental_crime", "ae_assaults", "ambulance_assaults",
            "housing_asb", "youth_first_time_entrants", "youth_reoffending")
TIME_BANDS = ("00:00-05:59", "06:00-11:59", "12:00-17:59", "18:00-23:59")
# The housing provider's estates (most of its homes); Abbey is the demo housing officer's patch.
ESTATES = ("Abbey", "Marsh End", "Kingsmead", "Westgate", "Eastfield", "Harbourside")


def _months(end_month: str, months: int) -> tuple[np.ndarray, np.ndarray, pl.Series]:
    """Month numbers, calendar months (1-12) and the month dates of the demo period."""
    end = d._month_number(end_month)
    n = np.arange(end - months + 1, end + 1)
    dates = pl.Series([d._month_date(m) for m in n], dtype=pl.Date)
    return n, n % 12 + 1, dates


def _ward_weights(mult: dict[str, float]) -> np.ndarray:
    """A multiplier per LSOA from a ward -> multiplier map (others 1)."""
    ward = d._ward_index()
    return np.array([mult.get(d.WARD_NAMES[w], 1.0) for w in ward])


def _pick(r: np.random.Generator, n: int, probs: np.ndarray) -> np.ndarray:
    """One category index per row from per-row probability rows (n x K) or one row (K)."""
    p = np.asarray(probs, dtype=float)
    if p.ndim == 1:
        return r.choice(p.size, size=n, p=p / p.sum())
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((r.random(n)[:, None] > cdf).sum(axis=1), p.shape[1] - 1)


def _refs(r: np.random.Generator, prefix: str, n: int) -> list[str]:
    nums = r.choice(10 ** 7, size=n, replace=False) if n < 10 ** 6 else r.integers(0, 10 ** 7, n)
    return [f"{prefix}{x:07d}" for x in nums]


def _events(r: np.random.Generator, per_month: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, ...]:
    """Events from expected counts per month and category (months x K) shared out over LSOAs
    (L x K shares, each column summing to 1): (month index, LSOA index, category index)."""
    lam = per_month[:, None, :] * share[None, :, :]
    return d._expand(lam, r)


def _shares(weight: np.ndarray) -> np.ndarray:
    return weight / weight.sum(axis=0, keepdims=True)


# --------------------------------------------------------------------------------------------
# fire and rescue
# --------------------------------------------------------------------------------------------
FIRE_TYPES = ("Deliberate primary fire", "Deliberate secondary fire", "Accidental dwelling fire",
              "Attack on fire crew")
# per year per 1,000 residents, seasonal amplitude, peak month
_FIRE_MODEL = {
    "Deliberate primary fire": (0.40, 0.15, 7.0),
    "Deliberate secondary fire": (1.60, 0.45, 5.0),
    "Accidental dwelling fire": (0.60, 0.12, 1.0),
    "Attack on fire crew": (0.025, 0.30, 11.0),
}
_PRIMARY_PROPERTY = {"Dwelling": 0.22, "Other building": 0.18, "Road vehicle": 0.60}
_SECONDARY_PROPERTY = {"Grassland or heathland": 0.35, "Refuse or bins": 0.45, "Derelict building": 0.08,
                       "Other outdoor": 0.12}
_FIRE_TIME = {"Deliberate primary fire": (0.30, 0.10, 0.20, 0.40),
              "Deliberate secondary fire": (0.12, 0.08, 0.32, 0.48),
              "Accidental dwelling fire": (0.14, 0.24, 0.30, 0.32),
              "Attack on fire crew": (0.15, 0.05, 0.25, 0.55)}


def build_fires(seed: int, end_month: str, months: int, pop: np.ndarray) -> pl.DataFrame:
    r = d._rng(seed, 20)
    n_m, cal, dates = _months(end_month, months)
    age = np.arange(months)
    L = pop.size
    weight = np.empty((L, len(FIRE_TYPES)))
    deprivation = r.lognormal(0.0, 0.45, L)
    for k, t in enumerate(FIRE_TYPES):
        hot = {"Deliberate primary fire": {"Marsh End": 2.5, "Harbourside": 1.8, "Kingsmead": 1.5},
               "Deliberate secondary fire": {"Marsh End": 2.8, "Harbourside": 2.4, "St Botolph's": 1.4,
                                             "Langdyke": 1.5},
               "Accidental dwelling fire": {"Seabank": 1.4, "Priory": 1.3},
               "Attack on fire crew": {"Marsh End": 3.0, "Harbourside": 2.0}}[t]
        dep = deprivation if t != "Accidental dwelling fire" else np.sqrt(deprivation)
        weight[:, k] = pop * dep * _ward_weights(hot) * r.lognormal(0.0, 0.25, L)
    per_month = np.empty((months, len(FIRE_TYPES)))
    for k, t in enumerate(FIRE_TYPES):
        rate, amp, peak = _FIRE_MODEL[t]
        base = rate * pop.sum() / 1000.0 / 12.0 * d._seasonal(cal, amp, peak)
        if t == "Deliberate secondary fire":  # bonfire night
            base = base * np.where(cal == 11, 1.8, 1.0)
        if t == "Deliberate primary fire":  # vehicle arson rising over the last year
            base = base * np.where(age >= months - 12, 1.35, 1.0)
        per_month[:, k] = base * r.gamma(200.0, 1 / 200.0, months)
    t, lsoa, k = _events(r, per_month, _shares(weight))
    n = t.size
    types = np.array(FIRE_TYPES)[k]
    prop = np.empty(n, dtype=object)
    prim = types == "Deliberate primary fire"
    prop[prim] = np.array(list(_PRIMARY_PROPERTY))[_pick(r, int(prim.sum()), np.array(list(_PRIMARY_PROPERTY.values())))]
    sec = types == "Deliberate secondary fire"
    prop[sec] = np.array(list(_SECONDARY_PROPERTY))[_pick(r, int(sec.sum()), np.array(list(_SECONDARY_PROPERTY.values())))]
    prop[types == "Accidental dwelling fire"] = "Dwelling"
    prop[types == "Attack on fire crew"] = "Not a fire"
    band = _pick(r, n, np.array([_FIRE_TIME[x] for x in FIRE_TYPES])[k])
    ward = d._ward_index()[lsoa]
    frame = d._frame("fires", {
        "month": dates.gather(t),
        "incident_ref": _refs(r, "IRS", n),
        "lsoa_code": d._codes(d.LSOA_CODES, lsoa),
        "ward_code": d._codes(list(d.WARD_CODES.values()), ward),
        "district_code": pl.repeat(d.DISTRICT_CODE, n, eager=True),
        "incident_type": types.tolist(),
        "property_type": prop.tolist(),
        "time_band": d._codes(TIME_BANDS, band),
    })
    return frame.sort(["month", "district_code", "ward_code", "lsoa_code", "incident_ref"])


# --------------------------------------------------------------------------------------------
# the council
# --------------------------------------------------------------------------------------------
ASB_TYPES = ("Personal", "Nuisance", "Environmental")
ASB_CATEGORIES = ("Noise", "Neighbour dispute", "Youth nuisance", "Drug-related", "Vehicle nuisance",
                  "Street drinking", "Begging", "Intimidation or harassment", "Other")
# category mix per ASB type
_ASB_MIX = {
    "Personal": (0.05, 0.45, 0.05, 0.02, 0.00, 0.00, 0.00, 0.38, 0.05),
    "Nuisance": (0.30, 0.05, 0.25, 0.10, 0.10, 0.07, 0.05, 0.03, 0.05),
    "Environmental": (0.25, 0.05, 0.05, 0.05, 0.20, 0.05, 0.00, 0.00, 0.35),
}


def _asb_rows(r, pop, cal, rate: float, type_share: tuple, hot: dict, stream_name: str):
    L = pop.size
    months = cal.size
    weight = np.empty((L, len(ASB_TYPES)))
    dep = r.lognormal(0.0, 0.4, L)
    for k, t in enumerate(ASB_TYPES):
        weight[:, k] = pop * dep * _ward_weights(hot.get(t, {})) * r.lognormal(0.0, 0.3, L)
    per_month = np.empty((months, len(ASB_TYPES)))
    for k, t in enumerate(ASB_TYPES):
        amp = 0.25 if t == "Nuisance" else 0.10
        per_month[:, k] = (rate * type_share[k] * pop.sum() / 1000.0 / 12.0 * d._seasonal(cal, amp, 7.0)
                           * r.gamma(150.0, 1 / 150.0, months))
    t, lsoa, k = _events(r, per_month, _shares(weight))
    cat = _pick(r, t.size, np.array([_ASB_MIX[x] for x in ASB_TYPES])[k])
    return t, lsoa, k, cat


def build_council_asb(seed: int, end_month: str, months: int, pop: np.ndarray) -> pl.DataFrame:
    r = d._rng(seed, 21)
    _, cal, dates = _months(end_month, months)
    hot = {"Nuisance": {"Harbourside": 3.5, "St Botolph's": 2.5, "Castle": 1.5},
           "Personal": {"Marsh End": 1.8, "Kingsmead": 1.6, "Westgate": 1.4},
           "Environmental": {"Harbourside": 1.8, "Westgate": 1.5}}
    t, lsoa, k, cat = _asb_rows(r, pop, cal, 10.0, (0.25, 0.55, 0.20), hot, "council")
    n = t.size
    frame = d._frame("council_asb", {
        "month": dates.gather(t), "report_ref": _refs(r, "ASB", n),
        "lsoa_code": d._codes(d.LSOA_CODES, lsoa),
        "ward_code": d._codes(list(d.WARD_CODES.values()), d._ward_index()[lsoa]),
        "district_code": pl.repeat(d.DISTRICT_CODE, n, eager=True),
        "asb_type": d._codes(ASB_TYPES, k), "asb_category": d._codes(ASB_CATEGORIES, cat),
    })
    return frame.sort(["month", "district_code", "ward_code", "lsoa_code", "report_ref"])


ENV_TYPES = ("Fly-tipping", "Graffiti", "Abandoned vehicle")
LAND_TYPES = ("Highway", "Footpath or bridleway", "Back alleyway", "Council land", "Private residential",
              "Commercial", "Agricultural", "Watercourse or bank", "Other")
_ENV_MODEL = {"Fly-tipping": (12.0, 0.20, 6.0), "Graffiti": (3.0, 0.05, 7.0), "Abandoned vehicle": (1.0, 0.05, 3.0)}
_FEN_WARDS = ("Fenside", "Holme Fen", "Langdyke", "Sutton Drove", "Ravensfleet", "Moorfield", "Wash Bank")


def build_environmental_crime(seed: int, end_month: str, months: int, pop: np.ndarray) -> pl.DataFrame:
    r = d._rng(seed, 22)
    _, cal, dates = _months(end_month, months)
    L = pop.size
    weight = np.empty((L, len(ENV_TYPES)))
    hot = {"Fly-tipping": {"St Botolph's": 2.5, "Westgate": 2.2, "Harbourside": 1.8,
                           **{w: 1.6 for w in _FEN_WARDS}},
           "Graffiti": {"St Botolph's": 4.0, "Castle": 2.0, "Harbourside": 2.5, "Abbey": 1.5},
           "Abandoned vehicle": {"Marsh End": 2.0, "Eastfield": 1.6}}
    for k, t in enumerate(ENV_TYPES):
        weight[:, k] = pop * _ward_weights(hot[t]) * r.lognormal(0.0, 0.35, L)
    per_month = np.column_stack([
        _ENV_MODEL[t][0] * pop.sum() / 1000.0 / 12.0 * d._seasonal(cal, _ENV_MODEL[t][1], _ENV_MODEL[t][2])
        * r.gamma(150.0, 1 / 150.0, months) for t in ENV_TYPES])
    t, lsoa, k = _events(r, per_month, _shares(weight))
    n = t.size
    ward = d._ward_index()[lsoa]
    fen = np.isin(ward, [d.WARD_NAMES.index(w) for w in _FEN_WARDS])
    # land type mix: fly-tipping in the fens goes on farm land and field edges
    mix = {"Fly-tipping": (0.38, 0.08, 0.16, 0.08, 0.08, 0.06, 0.08, 0.04, 0.04),
           "Graffiti": (0.20, 0.10, 0.15, 0.25, 0.10, 0.15, 0.00, 0.02, 0.03),
           "Abandoned vehicle": (0.70, 0.00, 0.05, 0.10, 0.10, 0.03, 0.01, 0.00, 0.01)}
    probs = np.array([mix[x] for x in ENV_TYPES])[k]
    farm = np.array(mix["Fly-tipping"]) * np.array([0.6, 1.5, 0.2, 0.5, 0.3, 0.5, 4.0, 2.0, 1.0])
    probs = np.where((fen & (k == 0))[:, None], farm, probs)
    land = _pick(r, n, probs)
    frame = d._frame("environmental_crime", {
        "month": dates.gather(t), "incident_ref": _refs(r, "ENV", n),
        "lsoa_code": d._codes(d.LSOA_CODES, lsoa),
        "ward_code": d._codes(list(d.WARD_CODES.values()), ward),
        "district_code": pl.repeat(d.DISTRICT_CODE, n, eager=True),
        "incident_type": d._codes(ENV_TYPES, k), "land_type": d._codes(LAND_TYPES, land),
    })
    return frame.sort(["month", "district_code", "ward_code", "lsoa_code", "incident_ref"])


# --------------------------------------------------------------------------------------------
# health
# --------------------------------------------------------------------------------------------
AE_LOCATIONS = ("Street or public place", "Licensed premises", "Home", "Workplace", "School or college",
                "Other", "Not recorded")
AE_WEAPONS = ("Body (hit, kick)", "Blunt object", "Knife or sharp object", "Glass or bottle", "Other weapon",
              "Not recorded")
AGE_BANDS = ("0-17", "18-24", "25-34", "35-49", "50 and over")


def build_ae_assaults(seed: int, end_month: str, months: int, pop: np.ndarray) -> pl.DataFrame:
    r = d._rng(seed, 23)
    _, cal, dates = _months(end_month, months)
    age = np.arange(months)
    per_month = 3.0 * pop.sum() / 1000.0 / 12.0 * d._seasonal(cal, 0.15, 7.0) * r.gamma(120.0, 1 / 120.0, months)
    counts = r.poisson(per_month)
    t = np.repeat(np.arange(months), counts)
    n = t.size
    loc = _pick(r, n, np.array((0.36, 0.20, 0.24, 0.06, 0.03, 0.06, 0.05)))
    # time of assault by location: licensed premises and the street at night
    night = {0: (0.35, 0.08, 0.20, 0.37), 1: (0.45, 0.02, 0.10, 0.43), 2: (0.15, 0.15, 0.30, 0.40)}
    band = _pick(r, n, np.array([night.get(int(x), (0.10, 0.25, 0.40, 0.25)) for x in range(len(AE_LOCATIONS))])[loc])
    knife = np.where(t >= months - 12, 0.12, 0.07)  # knife assaults rise in the last year
    wprobs = np.column_stack([np.full(n, 0.55), np.full(n, 0.10), knife, np.where(loc == 1, 0.15, 0.05),
                              np.full(n, 0.05), np.full(n, 0.08)])
    weapon = _pick(r, n, wprobs)
    ageb = _pick(r, n, np.array((0.12, 0.30, 0.27, 0.20, 0.11)))
    frame = d._frame("ae_assaults", {
        "month": dates.gather(t), "district_code": pl.repeat(d.DISTRICT_CODE, n, eager=True),
        "time_band": d._codes(TIME_BANDS, band), "location_type": d._codes(AE_LOCATIONS, loc),
        "weapon": d._codes(AE_WEAPONS, weapon), "age_band": d._codes(AGE_BANDS, ageb),
    })
    del age
    return frame.sort(["month", "district_code", "location_type", "weapon", "time_band", "age_band"])


CALL_TYPES = ("Assault or sexual assault", "Stab, gunshot or penetrating trauma")


def build_ambulance_assaults(seed: int, end_month: str, months: int, pop: np.ndarray) -> pl.DataFrame:
    r = d._rng(seed, 24)
    _, cal, dates = _months(end_month, months)
    L = pop.size
    hot = {"St Botolph's": 4.5, "Harbourside": 2.2, "Castle": 1.8, "Marsh End": 1.4}
    w = pop * _ward_weights(hot) * r.lognormal(0.0, 0.3, L)
    weight = np.column_stack([w, w * _ward_weights({"St Botolph's": 1.5, "Harbourside": 1.4})])
    per_month = np.column_stack([
        2.3 * pop.sum() / 1000.0 / 12.0 * d._seasonal(cal, 0.15, 7.0),
        0.2 * pop.sum() / 1000.0 / 12.0 * d._seasonal(cal, 0.10, 8.0)]) * r.gamma(150.0, 1 / 150.0, (months, 1))
    t, lsoa, k = _events(r, per_month, _shares(weight))
    n = t.size
    band = _pick(r, n, np.array((0.33, 0.10, 0.22, 0.35)))
    frame = d._frame("ambulance_assaults", {
        "month": dates.gather(t), "incident_ref": _refs(r, "AMB", n),
        "ward_code": d._codes(list(d.WARD_CODES.values()), d._ward_index()[lsoa]),
        "district_code": pl.repeat(d.DISTRICT_CODE, n, eager=True),
        "call_type": d._codes(CALL_TYPES, k), "time_band": d._codes(TIME_BANDS, band),
    })
    return frame.sort(["month", "district_code", "ward_code", "incident_ref"])


# --------------------------------------------------------------------------------------------
# housing
# --------------------------------------------------------------------------------------------
def build_housing_asb(seed: int, end_month: str, months: int, pop: np.ndarray) -> pl.DataFrame:
    """Cases opened (about 3 per 100 homes a year, in the provider's estates) and closed: each
    case closes 1 to 8 months after it opened; those not closed by the end are still open."""
    r = d._rng(seed, 25)
    n_m, cal, dates = _months(end_month, months)
    L = pop.size
    ward = d._ward_index()
    stock = np.where(np.isin(ward, [d.WARD_NAMES.index(w) for w in ESTATES]),
                     pop * r.uniform(0.15, 0.35, L), pop * r.uniform(0.0, 0.04, L))
    homes = stock / 2.3  # residents per home
    per_month = 0.03 * homes.sum() / 12.0 * d._seasonal(cal, 0.15, 7.0) * r.gamma(150.0, 1 / 150.0, months)
    share = homes / homes.sum()
    t, lsoa = d._expand(per_month[:, None] * share[None, :], r)
    n = t.size
    typ = _pick(r, n, np.array((0.35, 0.50, 0.15)))
    cat = _pick(r, n, np.array([_ASB_MIX[x] for x in ASB_TYPES])[typ])
    closes = t + 1 + r.poisson(2.5, n)
    closed = closes < months
    refs = np.array(_refs(r, "HSG", n))
    rows = {
        "month": pl.concat([dates.gather(t), dates.gather(closes[closed])]),
        "case_ref": np.concatenate([refs, refs[closed]]).tolist(),
        "lsoa_code": pl.concat([d._codes(d.LSOA_CODES, lsoa), d._codes(d.LSOA_CODES, lsoa[closed])]),
        "case_event": ["Opened"] * n + ["Closed"] * int(closed.sum()),
        "asb_type": pl.concat([d._codes(ASB_TYPES, typ), d._codes(ASB_TYPES, typ[closed])]),
        "asb_category": pl.concat([d._codes(ASB_CATEGORIES, cat), d._codes(ASB_CATEGORIES, cat[closed])]),
    }
    all_lsoa = np.concatenate([lsoa, lsoa[closed]])
    rows["ward_code"] = d._codes(list(d.WARD_CODES.values()), ward[all_lsoa])
    rows["district_code"] = pl.repeat(d.DISTRICT_CODE, all_lsoa.size, eager=True)
    return d._frame("housing_asb", rows).sort(["month", "district_code", "ward_code", "lsoa_code", "case_ref",
                                                "case_event"])


# --------------------------------------------------------------------------------------------
# youth justice
# --------------------------------------------------------------------------------------------
DISPOSALS = ("Youth caution", "Youth conditional caution", "Court sentence")
YOUTH_AGES = ("10-14", "15-17")
SEXES = ("Male", "Female")


def _quarters(last: int, n: int) -> list[int]:
    return [last - 3 * (n - 1 - q) for q in range(n)]


def build_youth_first_time_entrants(seed: int, end_month: str, months: int) -> pl.DataFrame:
    """Every quarter x disposal x age band x sex, zeros included (as a youth justice service's
    quarterly return lists them), to the last complete quarter."""
    r = d._rng(seed, 26)
    end = d._month_number(end_month)
    last = d._quarter_start(end) if end % 3 == 2 else d._quarter_start(end) - 3
    n_q = max(months // 3, 1)
    quarters = _quarters(last, n_q)
    trend = np.exp(-0.06 * (np.arange(n_q) - (n_q - 1) / 2) / 4.0)  # diversion: a slow fall
    mix = {("Youth caution", "10-14"): 1.2, ("Youth caution", "15-17"): 1.6,
           ("Youth conditional caution", "10-14"): 0.5, ("Youth conditional caution", "15-17"): 1.0,
           ("Court sentence", "10-14"): 0.4, ("Court sentence", "15-17"): 1.6}
    out = {k: [] for k in ("quarter", "district_code", "first_disposal", "age_band", "sex", "entrants")}
    for qi, q in enumerate(quarters):
        for disp in DISPOSALS:
            for ageb in YOUTH_AGES:
                for sex in SEXES:
                    lam = mix[(disp, ageb)] * (0.78 if sex == "Male" else 0.22) * 2.2 * trend[qi]
                    out["quarter"].append(d._month_date(q))
                    out["district_code"].append(d.DISTRICT_CODE)
                    out["first_disposal"].append(disp)
                    out["age_band"].append(ageb)
                    out["sex"].append(sex)
                    out["entrants"].append(int(r.poisson(lam)))
    return d._frame("youth_first_time_entrants", out)


YOUTH_DISPOSALS = ("Caution", "First-tier", "Community sentence", "Custody")
# mean children a quarter, reoffending rate, reoffences per reoffender
_YOUTH_REOFF = {"Caution": (3.0, 0.22, 2.6), "First-tier": (2.5, 0.36, 3.2),
                "Community sentence": (1.2, 0.52, 3.8), "Custody": (0.3, 0.62, 4.4)}


def build_youth_reoffending(seed: int, end_month: str, months: int) -> pl.DataFrame:
    r = d._rng(seed, 27)
    last = d.reoffending_latest_cohort(end_month)
    last_n = last.year * 12 + last.month - 1
    n_q = max(months // 3, 1)
    out = {k: [] for k in ("cohort_quarter", "district_code", "index_disposal", "age_band", "sex",
                           "offenders", "reoffenders", "reoffences")}
    for q in _quarters(last_n, n_q):
        for disp in YOUTH_DISPOSALS:
            mean, rate, per = _YOUTH_REOFF[disp]
            for ageb, a in zip(YOUTH_AGES, (0.35, 0.65)):
                for sex, s in zip(SEXES, (0.8, 0.2)):
                    off = int(r.poisson(mean * a * s * 2.0))
                    reo = int(r.binomial(off, min(0.95, rate * (1.1 if ageb == "15-17" else 0.85))))
                    out["cohort_quarter"].append(d._month_date(q))
                    out["district_code"].append(d.DISTRICT_CODE)
                    out["index_disposal"].append(disp)
                    out["age_band"].append(ageb)
                    out["sex"].append(sex)
                    out["offenders"].append(off)
                    out["reoffenders"].append(reo)
                    out["reoffences"].append(reo + int(r.poisson((per - 1) * reo)))
    return d._frame("youth_reoffending", out)


# --------------------------------------------------------------------------------------------
# the police extract's flags
# --------------------------------------------------------------------------------------------
# Share of each crime type flagged domestic abuse-related (ONS: about 15% of police recorded crime,
# a third of violence) and as hate crime (about 2%, mostly public order and violence).
_DA_SHARE = {"Violence and sexual offences": 0.33, "Criminal damage and arson": 0.10, "Public order": 0.08,
             "Burglary": 0.04, "Other crime": 0.10, "Other theft": 0.02}
_HATE_SHARE = {"Public order": 0.12, "Violence and sexual offences": 0.025, "Criminal damage and arson": 0.015}


def add_crime_flags(crime: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The demo's crime extract as the police analyst uploads it, with the two flags police.uk
    files lack. Drawn from a stream of their own, so the crimes themselves are unchanged."""
    r = d._rng(seed, 28)
    types = crime["crime_type"].to_list()
    da_p = np.array([_DA_SHARE.get(t, 0.0) for t in types])
    hate_p = np.array([_HATE_SHARE.get(t, 0.003) for t in types])
    da = np.where(r.random(crime.height) < da_p, "Yes", "No")
    hate = np.where(r.random(crime.height) < hate_p, "Yes", "No")
    return crime.with_columns(pl.Series("domestic_abuse", da.tolist(), pl.String),
                              pl.Series("hate_crime", hate.tolist(), pl.String))


def build_partner_frames(seed: int, end_month: str, months: int, pop: np.ndarray) -> dict[str, pl.DataFrame]:
    """Every partner dataset of the demo, keyed by name, each matching its contract exactly."""
    return {
        "fires": build_fires(seed, end_month, months, pop),
        "council_asb": build_council_asb(seed, end_month, months, pop),
        "environmental_crime": build_environmental_crime(seed, end_month, months, pop),
        "ae_assaults": build_ae_assaults(seed, end_month, months, pop),
        "ambulance_assaults": build_ambulance_assaults(seed, end_month, months, pop),
        "housing_asb": build_housing_asb(seed, end_month, months, pop),
        "youth_first_time_entrants": build_youth_first_time_entrants(seed, end_month, months),
        "youth_reoffending": build_youth_reoffending(seed, end_month, months),
    }
