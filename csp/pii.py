"""Personal-data screen for partner uploads, plus the standard transforms that fix what it finds.

Partners may only upload depersonalised extracts, so an upload is blocked while
``screen`` returns any finding. The screen looks at column *names* (a column
called ``surname`` is personal data whatever it holds) and at the *values* of
string columns (an NHS number pasted into a free-text ``notes`` column).

Pure Polars + numpy: no Streamlit and no I/O, so it can run in tests, ingest
jobs and the UI alike. Value checks are vectorised regexes run once per
*distinct* value (police.uk location columns repeat a few thousand streets
across 100k rows); only the person-name heuristic runs in Python, and only on
values that already passed a cheap regex prefilter.

Regexes use the Rust ``regex`` syntax Polars uses (no look-around, no
back-references) and ``[0-9]`` rather than ``\\d``, which is Unicode-aware there
and would let non-ASCII digits through to the integer casts in the NHS check.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Callable

import numpy as np
import polars as pl

__all__ = [
    "Finding",
    "screen",
    "drop_column",
    "postcode_to_outward",
    "postcode_to_sector",
    "date_to_month",
    "age_to_band",
    "coordinates_to_lsoa",
    "TRANSFORMS",
    "TRANSFORM_DESCRIPTIONS",
    "suggest_transform",
    "KIND_LABELS",
    "STRICT_KINDS",
    "place_name_columns",
]

MAX_ROWS = 20  # rows listed per finding: enough to find them, not a dump of the file
_MESSAGE_ROWS = 10  # rows quoted in the message itself, to keep it readable


@dataclass
class Finding:
    """One reason to block an upload: a column and the kind of personal data seen in it.

    When a column *heading* itself looks like personal data (a pivot with a column per
    person), ``column`` is that heading, ``rows`` is empty and ``count`` is 1.
    """

    column: str
    kind: str
    rows: list[int]  # 1-based data row numbers (header excluded), at most MAX_ROWS
    count: int  # rows flagged (for column-name kinds: non-empty values in the column)
    example: str  # masked: enough to recognise the problem, never the value itself
    message: str


# --------------------------------------------------------------------------------------
# Kinds
# --------------------------------------------------------------------------------------

# (singular, plural) phrases used in messages.
KIND_LABELS: dict[str, tuple[str, str]] = {
    "nhs_number": ("an NHS number", "NHS numbers"),
    "ni_number": ("a National Insurance number", "National Insurance numbers"),
    "postcode_full": ("a full postcode", "full postcodes"),
    "postcode_column": ("a postcode finer than a sector", "postcodes finer than a sector"),
    "date_of_birth": ("a date of birth", "dates of birth"),
    "exact_date": ("an exact (day-level) date", "exact (day-level) dates"),
    "email": ("an email address", "email addresses"),
    "phone": ("a phone number", "phone numbers"),
    "pnc_id": ("a Police National Computer ID", "Police National Computer IDs"),
    "cro_number": ("a Criminal Records Office number", "Criminal Records Office numbers"),
    "person_name": ("a person's name", "people's names"),
    "house_number": ("a house number in an address", "house numbers in addresses"),
}

# Kinds still checked in columns the partner has explicitly allowed. These are
# direct identifiers that no legitimate anonymised field (e.g. a police.uk street)
# ever contains, so an allowance must not switch them off. PNC and CRO numbers are
# included alongside NHS/NI/email/phone/postcode because they identify a person
# just as directly.
STRICT_KINDS = frozenset(
    {"nhs_number", "ni_number", "email", "phone", "postcode_full", "pnc_id", "cro_number"}
)

# Value kinds also run over the column headings themselves. Dates are left out
# because pivoted daily-count tables legitimately have date headings.
_HEADER_KINDS = frozenset(
    {"nhs_number", "ni_number", "email", "phone", "postcode_full", "pnc_id",
     "cro_number", "person_name", "house_number"}
)

# --------------------------------------------------------------------------------------
# Patterns (Rust regex syntax, run by Polars)
# --------------------------------------------------------------------------------------

_NHS_RE = r"\b[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}\b"
# Placeholders such as 0000000000 or 9999999999 pass mod-11 (any repeated digit
# does) but are not anyone's number, so they are not reported.
_NHS_PLACEHOLDER_RE = "^(?:" + "|".join(f"{d}{{10}}" for d in range(10)) + ")$"


def _ni_prefixes() -> list[str]:
    # HMRC rules: first letter not D F I Q U V; second not D F I O Q U V;
    # and these administrative/never-issued pairs are excluded.
    first = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "DFIQUV"]
    second = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "DFIOQUV"]
    banned = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    return [a + b for a in first for b in second if a + b not in banned]


# Case-insensitive: NI numbers are often typed in lower case.
_NI_RE = r"(?i)\b(?:" + "|".join(_ni_prefixes()) + r") ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b"

_PC_OUT = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
_PC_IN = r"[0-9][ABD-HJLNP-UW-Z]{2}"  # inward letters never use C I K M O V
# A value that is nothing but a postcode is matched in any case and spacing
# ("ln1 3ab", "LN1-3AB"); inside free text only upper case counts, so
# "B2 1st floor" is not a postcode.
_POSTCODE_RE = rf"(?i:^\s*{_PC_OUT}[\s-]*{_PC_IN}\s*$)|\b{_PC_OUT} ?{_PC_IN}\b"
# What a postcode column may hold: outward code ("LN1") or sector ("LN1 3").
_PC_REDUCED_RE = r"(?i)^\s*[A-Z]{1,2}[0-9][A-Z0-9]?(?:\s*[0-9])?\s*$"

_EMAIL_RE = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"

# UK numbers only: a 0 / +44 / 0044 trunk prefix followed by a full-length national
# number (mobiles 07 + 9 digits, landlines 01/02/03 + 8-9 digits). Requiring the
# prefix and the length is what keeps counts, years and IDs out.
_SEP = r"(?:[ -]|\)[ ]?)?"
_PHONE_RE = (
    r"(?:\+44[ ]?(?:\(0\)[ ]?)?|\b0044[ ]?|\(?\b0)"
    rf"(?:7(?:{_SEP}[0-9]){{9}}|[123](?:{_SEP}[0-9]){{8,9}})\b"
)

# PNC: yy/nnnnnnnX or yyyy/nnnnnnnX. CRO: nnnnnn/yyX or SFyy/nnnnnnX.
_PNC_RE = r"(?i)\b(?:[0-9]{2}|(?:19|20)[0-9]{2})/[0-9]{3,7}[A-Z]\b"
_CRO_RE = r"(?i)\b(?:[0-9]{3,6}/[0-9]{2}[A-Z]|SF[0-9]{2}/[0-9]{1,6}[A-Z])\b"

_STREET_TYPES = (
    "Street St Road Rd Lane Ln Avenue Ave Close Way Drive Court Ct Place Crescent Cres "
    "Gardens Gdns Grove Terrace Walk Square Sq Mews Row Parade Hill Green Rise View Park "
    "Gate Yard Boulevard Broadway Approach Chase Croft Fields Meadows Orchard Wharf Quay "
    "Vale Villas Cottages Dr Cl"
).split()
_STREET_ALT = "|".join(sorted({w for t in _STREET_TYPES for w in (t, t.upper())}, key=len, reverse=True))
# A number followed by one to three capitalised words and a street type. Capitals
# are required so that "12 burglaries on Mill Road" is not a house number; police.uk
# "On or near High Street" has no number and so never matches.
_HOUSE_RE = (
    rf"\b[0-9]{{1,3}}[A-Za-z]?,?[ \t]+(?:[A-Z][A-Za-z'’.-]*[ \t]+){{1,3}}(?:{_STREET_ALT})\b"
    r"|\b(?:Flat|FLAT|Apartment|APARTMENT|Apt|APT)\.?[ \t]+[0-9]+[A-Za-z]?\b"
)

_D = r"(0?[1-9]|[12][0-9]|3[01])"
_M = r"(0?[1-9]|1[0-2])"
_Y4 = r"((?:19|20)[0-9]{2})"
_MON = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
# (pattern, index of the capture group holding the day). The day is needed
# because a column where every date is the 1st is a month column in disguise.
_DATE_PATTERNS: list[tuple[str, int]] = [
    (rf"\b{_D}[/.-]{_M}[/.-]{_Y4}\b", 1),  # 12/03/2019, 1-3-2019
    (r"\b(0[1-9]|[12][0-9]|3[01])/(0[1-9]|1[0-2])/[0-9]{2}\b", 1),  # 12/03/19
    (rf"\b{_Y4}[-/.]{_M}[-/.]{_D}(?:[^0-9]|$)", 3),  # 2019-03-12, 2019-03-12T10:00
    (rf"(?i)\b{_D}(?:st|nd|rd|th)?[ -]+(?:of[ ]+)?{_MON}\.?,?[ -]+(?:19|20)[0-9]{{2}}\b", 1),
    (rf"(?i)\b{_D}-{_MON}-[0-9]{{2}}\b", 1),  # 12-Mar-19 (Excel)
    (rf"(?i)\b{_MON}\.?[ ]+{_D}(?:st|nd|rd|th)?,?[ ]+(?:19|20)[0-9]{{2}}\b", 1),  # March 12, 2019
]
# All date forms in one regex for the prefilter; (?i) must become a scoped group.
_DATE_ANY_RE = "|".join(f"(?i:{p[4:]})" if p.startswith("(?i)") else f"(?:{p})" for p, _ in _DATE_PATTERNS)

# --------------------------------------------------------------------------------------
# Person names (heuristic)
# --------------------------------------------------------------------------------------

# Common forenames in England and Wales. Words that are also ordinary English
# (Will, May, June, Hope, Joy, Dawn...) are left out on purpose: they cost more
# false alarms in free text than they catch.
FORENAMES: frozenset[str] = frozenset("""
Aaron Abigail Adam Ahmed Aisha Alan Alexander Alfie Ali Alice Amanda Amelia Amy Andrew
Angela Ann Anne Anthony Archie Ashley Ava Barbara Barry Ben Benjamin Bradley Brenda Brian
Callum Carl Carol Catherine Charles Charlie Charlotte Chelsea Chloe Chris Christine
Christopher Claire Colin Connor Craig Daisy Daniel Danny Darren David Dean Deborah Dennis
Derek Diane Donna Dorothy Dylan Edward Elizabeth Ella Ellie Emily Emma Ethan Evie Fatima
Florence Freddie Freya Gary Gemma George Grace Graham Hannah Harriet Harry Harvey Helen
Henry Holly Ian Irene Isaac Isabella Isla Jack Jacob Jacqueline Jade Jake James Jamie Jane
Janet Jason Jean Jennifer Jessica Joan Joanne Joe John Jonathan Jordan Joseph Joshua Julie
Karen Katherine Katie Keith Kelly Kenneth Kevin Kieran Kirsty Kyle Laura Lauren Leah
Leanne Lee Leo Lewis Liam Lily Linda Lisa Logan Louise Lucas Lucy Luke Margaret Mark
Martin Mary Mason Matilda Matthew Maureen Max Megan Mia Michael Michelle Millie Mohammed
Muhammad Natalie Nathan Neil Nicola Noah Oliver Olivia Oscar Patricia Paul Pauline Peter
Philip Phoebe Poppy Rachel Rebecca Reece Richard Robert Ronald Rosie Ruby Ryan Samantha
Samuel Sandra Sarah Scott Sean Shaun Sharon Sheila Simon Sophia Sophie Stacey Stephen
Steven Stuart Susan Terry Thomas Tom Tony Tracey Tracy Trevor Tyler Valerie Victoria
Wayne Wendy William Zoe
""".split())

# Words that, next to a forename, mean a place or organisation rather than a person
# ("Victoria Road", "Florence Nightingale House", "Lindsey District Council").
_PLACE_WORDS = frozenset(w.lower() for w in _STREET_TYPES) | frozenset("""
academy arms bank bridge buildings building centre center chapel church city close club college
common constabulary cottage council county court district embankment esplanade estate farm
foundation ground group hospital hotel house inn infants junior library limited lodge ltd
manor market memorial moor museum nursery police practice precinct primary promenade
recreation retail school services service shopping stadium station surgery tavern team
theatre town trust unit university village ward works
""".split())
# Only directly after the forename ("Shirley North", "Lindsey West"): as a third
# word ("John Smith North ...") they usually start the next phrase instead.
_AREA_WORDS = frozenset("north south east west central upper lower".split())
# A forename right after these is part of a place or institution name.
_PLACE_PREFIXES = frozenset("st st. saint king queen prince princess port fort mount lake cape".split())
_TITLES = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "MR", "MRS", "MISS", "MX")

_FORENAME_ALT = "|".join(sorted({v for n in FORENAMES for v in (n, n.upper())}, key=len, reverse=True))
_TITLE_ALT = "|".join(sorted(_TITLES, key=len, reverse=True))
# Cheap vectorised prefilter; _find_person_name confirms in Python.
_NAME_PREFILTER_RE = (
    rf"\b(?:{_TITLE_ALT})\.?[ \t]+[A-Z]"
    rf"|\b(?:{_FORENAME_ALT})[ \t]+[A-Z]"
    rf"|\b[A-Z]{{2}}[A-Z'’-]*,[ \t]*(?:{_FORENAME_ALT})\b"
)

# Each repeat starts with an apostrophe/hyphen or a capital, so a lower-case run can
# only be split one way (no catastrophic backtracking): Smith, O'Brien, McDonald, SMITH.
_CAP_WORD = r"(?:[A-Z][a-z]*(?:['’-][A-Z]?[a-z]+|[A-Z][a-z]+)*|[A-Z]{2,}(?:['’-][A-Z]+)*)"
_PY_TITLE = re.compile(rf"\b({_TITLE_ALT})\.?[ \t]+((?:[A-Z]\.?[ \t]+){{0,2}})({_CAP_WORD})\b(?:[ \t]+({_CAP_WORD})\b)?")
_PY_FORENAME = re.compile(
    rf"\b({_FORENAME_ALT})[ \t]+((?:[A-Z]\.?[ \t]+)?)({_CAP_WORD})\b"
    rf"(?:[ \t]+({_CAP_WORD})\b)?(?:[ \t]+({_CAP_WORD})\b)?"
)
_PY_SURNAME_FIRST = re.compile(rf"\b([A-Z]{{2,}}(?:['’-][A-Z]+)*),[ \t]*({_FORENAME_ALT})\b(?:[ \t]+({_CAP_WORD})\b)?")
_POLICE_UK_PREFIX = re.compile(r"^\s*on or near\b", re.IGNORECASE)


def _is_place(word: str | None) -> bool:
    return word is not None and word.lower().rstrip(".") in _PLACE_WORDS


def _find_person_name(text: str) -> str | None:
    """The first thing in ``text`` that looks like a person's name, or None."""
    # police.uk locations are anonymised street/landmark descriptions by
    # construction; a forename there is a street named after someone.
    if _POLICE_UK_PREFIX.match(text):
        return None
    for m in _PY_TITLE.finditer(text):
        title, surname, after = m.group(1), m.group(3), m.group(4)
        if len(surname) < 2 or _is_place(surname) or _is_place(after):
            continue
        before = text[: m.start()].split()[-2:]
        if title == "Dr" and before and before[-1][:1].isupper() and any(
            c.isdigit() for c in " ".join(before)
        ):
            continue  # "12 Acacia Dr Lincoln": Dr is Drive
        return text[m.start(): m.end(3)]
    for m in _PY_FORENAME.finditer(text):
        w1, w2, w3 = m.group(3), m.group(4), m.group(5)
        if len(w1) < 2 or _is_place(w1) or _is_place(w2) or _is_place(w3):
            continue
        if w1.lower() in _AREA_WORDS:
            continue
        before = text[: m.start()].rstrip().split()
        if before and before[-1].lower() in _PLACE_PREFIXES:
            continue
        end = m.end(4) if (w2 and w2.lower() not in _AREA_WORDS) else m.end(3)
        return text[m.start(): end]
    for m in _PY_SURNAME_FIRST.finditer(text):
        if _is_place(m.group(1)) or _is_place(m.group(3)):
            continue
        return text[m.start(): m.end(2)]
    return None


# --------------------------------------------------------------------------------------
# Masking: examples must help the partner find the problem without repeating it
# --------------------------------------------------------------------------------------

def _mask_generic(token: str) -> str:
    # Keep a couple of leading characters and the last one of long tokens, mask
    # every other letter/digit, keep punctuation so the shape stays recognisable.
    idx = [i for i, c in enumerate(token) if c.isalnum()]
    keep: set[int] = set()
    if len(idx) >= 8:
        keep = {idx[0], idx[1], idx[-1]}
    elif len(idx) >= 4:
        keep = {idx[0]}
    hidden = set(idx) - keep
    return "".join("*" if i in hidden else c for i, c in enumerate(token))


def _mask_email(token: str) -> str:
    local, _, domain = token.rpartition("@")
    head, dot, tld = domain.rpartition(".")
    return (local[:1] + "*" * max(len(local) - 1, 0)) + "@" + "*" * len(head) + dot + tld


def _mask_postcode(token: str) -> str:
    # Outward code and sector digit are publishable; only the unit letters are masked.
    t = token.strip()
    return t[:-2] + "**"


def _mask_date(token: str) -> str:
    # The year alone is not the problem; day and month are.
    m = re.search(r"(?:19|20)[0-9]{2}", token)
    keep = set(range(m.start(), m.end())) if m else set()
    return "".join("*" if (c.isalnum() and i not in keep) else c for i, c in enumerate(token))


def _mask_name(token: str) -> str:
    out = []
    for w in token.split(" "):
        bare = w.rstrip(".,")
        if bare in _TITLES or len(bare) <= 1:
            out.append(w)
        else:
            out.append(w[0] + "".join("*" if c.isalnum() else c for c in w[1:]))
    return " ".join(out)


def _mask_house(token: str) -> str:
    # Keep the street (police.uk publishes streets); mask the number that pins a home.
    m = re.match(r"\s*(?:(?:Flat|FLAT|Apartment|APARTMENT|Apt|APT)\.?\s+)?[0-9]+[A-Za-z]?", token)
    if not m:
        return _mask_generic(token)
    head = re.sub(r"[0-9]+[A-Za-z]?", lambda x: "*" * len(x.group(0)), m.group(0))
    return head + token[m.end():]


_MASKERS: dict[str, Callable[[str], str]] = {
    "email": _mask_email,
    "postcode_full": _mask_postcode,
    "date_of_birth": _mask_date,
    "exact_date": _mask_date,
    "person_name": _mask_name,
    "house_number": _mask_house,
}


def _mask(kind: str, token: str) -> str:
    token = token.strip()
    masked = _MASKERS.get(kind, _mask_generic)(token)
    if masked == token or (token and token in masked):  # belt and braces: never echo the value
        masked = _mask_generic(token) if _mask_generic(token) != token else "*" * len(token)
    return masked


def _mask_cell(value: object) -> str:
    # Example for column-name findings: the first value, truncated and masked.
    text = str(value).strip()
    short = text[:40]
    masked = _mask_generic(short)
    if masked == short:
        masked = "*" * len(short)
    return masked + ("…" if len(text) > 40 else "")


# --------------------------------------------------------------------------------------
# Column names
# --------------------------------------------------------------------------------------

# "lsoa_name", "ward_name", "area_name" name places, not people.
_NON_PERSON_QUALIFIERS = frozenset("""
lsoa msoa oa ward district area street road town city county region country borough parish
la lad lga ccg icb pcn force team file dataset sheet column field indicator category type
org organisation organization school premises location place site venue business shop
practice provider service beat neighbourhood constituency sector cohort measure metric
group outcome offence crime substance product drug brand project programme scheme event
station hospital trust unit ward establishment prison court
""".split())

_NAME_WORDS = frozenset("""
forename forenames surname surnames firstname lastname fullname middlename middlenames
givenname givennames familyname maidenname nickname alias aliases christianname username
""".split())
_DOB_WORDS = frozenset("dob dateofbirth birthdate birthday birthdt borndate dateborn".split())
_CONTACT_WORDS = frozenset("""
email emailaddress phone phonenumber phoneno telephone telephonenumber tel telno mobile
mobileno mobilenumber landline fax contactnumber contactno
""".split())
_ADDRESS_WORDS = frozenset("""
address addresses addr addressline streetaddress homeaddress fulladdress houseno
housenumber housename flatno flatnumber uprn
""".split())
_IDENTIFIER_WORDS: dict[str, str] = {
    **dict.fromkeys("nhsnumber nhsno nhsnum nhsid".split(), "NHS numbers"),
    **dict.fromkeys("nino ninumber nino ninum nationalinsurance nationalinsurancenumber".split(),
                    "National Insurance numbers"),
    **dict.fromkeys("pnc pncid pncno pncnumber".split(), "Police National Computer IDs"),
    **dict.fromkeys("cro crono cronumber".split(), "Criminal Records Office numbers"),
    **dict.fromkeys("passport passportno passportnumber".split(), "passport numbers"),
    **dict.fromkeys("drivinglicence drivinglicense drivinglicencenumber".split(), "driving licence numbers"),
    **dict.fromkeys("upn uln".split(), "pupil/learner numbers"),
    **dict.fromkeys("crn nomis nomisid nomsno nomsnumber prisonnumber prisonno".split(),
                    "offender case references"),
    **dict.fromkeys("ipaddress".split(), "IP addresses"),
}


def _name_tokens(col: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", col)  # camelCase -> camel Case
    return re.findall(r"[a-z]+|[0-9]+", spaced.lower())


def _compounds(tokens: list[str]) -> set[str]:
    # Single tokens plus runs of 2-3 joined, so "first_name", "FirstName" and
    # "firstname" all become "firstname", and "date_of_birth" "dateofbirth".
    words = [t for t in tokens if not t.isdigit()]
    out = set(words)
    for n in (2, 3, 4):
        out |= {"".join(words[i:i + n]) for i in range(len(words) - n + 1)}
    return out


_POSTCODE_NAME_WORDS = frozenset("postcode postcodes postalcode pcode zip zipcode".split())


def _is_postcode_name(col: str) -> bool:
    return bool(_compounds(_name_tokens(col)) & _POSTCODE_NAME_WORDS)


def _postcode_column_finding(col: str, text: pl.Series, full: dict[str, str]) -> Finding | None:
    # A column named as a postcode is only fine once every value is cut to a
    # sector or coarser. Full postcodes are already reported as postcode_full;
    # this catches the rest ("LN1 3A", "LN13 AB?") that the value regex cannot
    # parse but that may still be finer than a sector. Values without a digit
    # ("unknown", "NFA") carry no location.
    v = text.str.strip_chars()
    bad = (
        v.str.contains("[0-9]")
        & ~v.str.contains(_PC_REDUCED_RE)
        & ~text.is_in(list(full.keys()))
    ).fill_null(False)
    if not bad.any():
        return None
    hit = {x: x for x in text.filter(bad).unique().to_list()}
    return _value_finding(col, "postcode_column", text, hit)


def _suggests_birth(col: str) -> bool:
    toks = _name_tokens(col)
    return any(t == "dob" or t == "born" or t.startswith("birth") for t in toks) or bool(
        _compounds(toks) & _DOB_WORDS
    )


def _classify_column_name(col: str) -> tuple[str, str] | None:
    """(kind, what it suggests) when a column's name alone suggests personal data."""
    toks = _name_tokens(col)
    comp = _compounds(toks)
    for word, what in _IDENTIFIER_WORDS.items():
        if word in comp:
            return "identifier_column", what
    if {"nhs", "ni"} & set(toks) and {"number", "no", "num", "id"} & set(toks):
        return "identifier_column", "personal identifiers"
    if comp & _CONTACT_WORDS:
        return "contact_column", "contact details (email or phone)"
    if comp & _DOB_WORDS:
        return "dob_column", "dates of birth"
    # Postcode columns are not flagged by name alone: outward codes and sectors are
    # fine. Their values get a stricter check instead (see _postcode_column_finding).
    if comp & _ADDRESS_WORDS and not {"email", "ip", "web", "mac", "url"} & set(toks):
        return "address_column", "addresses"
    if comp & _NAME_WORDS:
        return "name_column", "people's names"
    if {"name", "names"} & set(toks) and not set(toks) & _NON_PERSON_QUALIFIERS:
        return "name_column", "people's names"
    return None


# --------------------------------------------------------------------------------------
# Value detection over distinct values
# --------------------------------------------------------------------------------------

_REGEX_KINDS: dict[str, str] = {
    "ni_number": _NI_RE,
    "email": _EMAIL_RE,
    "phone": _PHONE_RE,
    "postcode_full": _POSTCODE_RE,
    "pnc_id": _PNC_RE,
    "cro_number": _CRO_RE,
    "house_number": _HOUSE_RE,
}
_VALUE_KINDS_ORDER = (
    "nhs_number", "ni_number", "email", "phone", "postcode_full", "pnc_id", "cro_number",
    "date_of_birth", "exact_date", "person_name", "house_number",
)


def _nhs_valid(tokens: pl.Expr) -> pl.Expr:
    """Vectorised NHS mod-11 check on 10-digit candidate strings (spaces/hyphens allowed)."""
    digits = tokens.str.replace_all(r"[ -]", "")
    total = pl.sum_horizontal(
        [digits.str.slice(i, 1).cast(pl.Int32, strict=False) * (10 - i) for i in range(9)]
    )
    check = 11 - (total % 11)
    check = pl.when(check == 11).then(0).otherwise(check)  # 11 -> 0; 10 stays and never matches
    last = digits.str.slice(9, 1).cast(pl.Int32, strict=False)
    return (
        (digits.str.len_chars() == 10)
        & (check == last)
        & ~digits.str.contains(_NHS_PLACEHOLDER_RE)
    ).fill_null(False)


def _nhs_hits(values: pl.Series) -> dict[str, str]:
    """{value: first valid NHS number in it} for string values."""
    cand = pl.DataFrame({"v": values}).filter(pl.col("v").str.contains(_NHS_RE))
    if cand.height == 0:
        return {}
    toks = (
        cand.with_columns(tok=pl.col("v").str.extract_all(_NHS_RE))
        .explode("tok")
        .filter(_nhs_valid(pl.col("tok")))
        .unique("v", keep="first", maintain_order=True)
    )
    return dict(zip(toks["v"].to_list(), toks["tok"].to_list()))


def _date_hits(values: pl.Series) -> tuple[dict[str, str], bool]:
    """({value: first date in it}, whether any date found is not the 1st of a month)."""
    frame = pl.DataFrame({"v": values}).filter(pl.col("v").str.contains(_DATE_ANY_RE))
    if frame.height == 0:
        return {}, False
    tok = pl.coalesce([pl.col("v").str.extract(p, 0) for p, _ in _DATE_PATTERNS])
    not_first = pl.any_horizontal(
        [(pl.col("v").str.extract(p, g).cast(pl.Int32, strict=False) != 1).fill_null(False)
         for p, g in _DATE_PATTERNS]
    )
    frame = frame.with_columns(tok=tok, nf=not_first).filter(pl.col("tok").is_not_null())
    return dict(zip(frame["v"].to_list(), frame["tok"].to_list())), bool(frame["nf"].any())


def _detect(values: pl.Series, kinds: frozenset[str], birth: bool) -> dict[str, dict[str, str]]:
    """For distinct non-null string ``values``: {kind: {flagged value: matched text}}."""
    hits: dict[str, dict[str, str]] = {}
    if values.len() == 0:
        return hits
    frame = pl.DataFrame({"v": values})

    if "nhs_number" in kinds:
        hits["nhs_number"] = _nhs_hits(values)

    regex_kinds = [k for k in _REGEX_KINDS if k in kinds]
    if regex_kinds:
        # One pass per kind, all in a single parallel select.
        flags = frame.select(
            pl.col("v"), *[pl.col("v").str.contains(_REGEX_KINDS[k]).alias(k) for k in regex_kinds]
        )
        present = flags.select(pl.col(regex_kinds).any()).row(0)
        for k in (k for k, any_hit in zip(regex_kinds, present) if any_hit):
            sub = flags.filter(pl.col(k)).select(
                "v", tok=pl.col("v").str.extract(_REGEX_KINDS[k], 0)
            )
            hits[k] = dict(zip(sub["v"].to_list(), sub["tok"].to_list()))

    if {"date_of_birth", "exact_date"} & kinds:
        found, any_not_first = _date_hits(values)
        if birth and "date_of_birth" in kinds:
            hits["date_of_birth"] = found
        elif "exact_date" in kinds and any_not_first:
            # A column whose dates are all the 1st is a month column stored as a date.
            hits["exact_date"] = found

    if "person_name" in kinds:
        cand = frame.filter(pl.col("v").str.contains(_NAME_PREFILTER_RE))["v"].to_list()
        names = {}
        for v in cand:
            n = _find_person_name(v)
            if n:
                names[v] = n
        hits["person_name"] = names

    return {k: v for k, v in hits.items() if v}


def _rows_text(rows: list[int], count: int) -> str:
    shown = rows[:_MESSAGE_ROWS]
    word = "row" if count == 1 else "rows"
    text = f"{word} {', '.join(map(str, shown))}"
    if count > len(shown):
        text += f" and {count - len(shown)} more"
    return text


def _value_finding(col: str, kind: str, s: pl.Series, hit: dict[str, str]) -> Finding:
    mask = s.is_in(list(hit.keys()))
    idx = mask.arg_true()
    count = idx.len()
    rows = [i + 1 for i in idx.head(MAX_ROWS).to_list()]
    token = hit[s[idx[0]]]
    one, many = KIND_LABELS[kind]
    if count == 1:
        msg = f"Column '{col}' has 1 value that looks like {one} ({_rows_text(rows, count)})"
    else:
        msg = f"Column '{col}' has {count} values that look like {many} ({_rows_text(rows, count)})"
    return Finding(col, kind, rows, count, _mask(kind, token), msg)


def _as_text(s: pl.Series) -> pl.Series | None:
    """The column as strings if it is text-like, else None (numbers etc. are skipped)."""
    if s.dtype == pl.String:
        return s
    if isinstance(s.dtype, (pl.Categorical, pl.Enum)):
        return s.cast(pl.String)
    return None


def _numeric_nhs(col: str, s: pl.Series) -> Finding | None:
    # Integer (or integral float, as Excel exports them) NHS numbers: the only
    # numeric check, because counts and rates never reach ten digits.
    ints = s.cast(pl.Float64, strict=False)
    ok = ints.is_not_null() & ints.is_finite() & (ints == ints.floor()) & (ints >= 1e9) & (ints < 1e10)
    if not ok.any():
        return None
    frame = pl.DataFrame({"f": ints, "ok": ok}).select(
        v=pl.when(pl.col("ok")).then(pl.col("f").cast(pl.Int64, strict=False).cast(pl.String))
    )
    text = frame.get_column("v")
    valid = frame.select(_nhs_valid(pl.col("v"))).to_series()
    if not valid.any():
        return None
    hit = {v: v for v in text.filter(valid).unique().to_list()}
    return _value_finding(col, "nhs_number", text, hit)


def _temporal_dates(col: str, s: pl.Series, birth: bool) -> Finding | None:
    # Date/Datetime columns: the values are day-level by type unless every one is
    # the 1st (the contract stores months as first-of-month dates).
    nn = s.drop_nulls()
    if nn.len() == 0:
        return None
    if birth:
        kind = "date_of_birth"
    elif (nn.dt.day() != 1).any():
        kind = "exact_date"
    else:
        return None
    text = s.dt.strftime("%Y-%m-%d")
    hit = {v: v for v in text.drop_nulls().unique().to_list()}
    return _value_finding(col, kind, text, hit)


# ONS area-name columns (LSOA21NM, WD24NM, LADNM_ACTIVE, "LSOA 2021 Name", ward_name, area_name):
# the names of places, many of them named after people ("William Morris", "Isaac Newton", "Mary
# Tavy", "Darren Valley"), which the person-name heuristic cannot tell from people. Reference
# geography and population uploads allow them as place names; every other dataset is screened as
# before, and the strict kinds (NHS numbers, emails, phones ...) are still checked in them.
_PLACE_NAME_COLUMN_RE = re.compile(
    r"^(?:lsoa|msoa|oa|wd|ward|lad|ltla|utla|lau1|cty|rgn|ctry|cauth|pcon|par|parish|ew|gb|uk|district|county"
    r"|region|country|local_authority(?:_district)?|area|place)(?:_?(?:[0-9]{4}|[0-9]{2}))?_?(?:nm|name)"
    r"(?:w|_active)?$"
)


def place_name_columns(columns: list[str]) -> dict[str, str]:
    """Allowances for ``screen`` covering the columns named as ONS place names, for reference
    geography uploads only (a person's name typed into such a column in another dataset is still
    found)."""
    out = {}
    for c in columns:
        key = re.sub(r"[^a-z0-9]+", "_", str(c).lstrip("\ufeff").strip().lower()).strip("_")
        if _PLACE_NAME_COLUMN_RE.match(key):
            out[c] = "ONS place name in reference geography"
    return out


def screen(df: pl.DataFrame, allowed_columns: dict[str, str] | None = None, *, first_row: int = 1) -> list[Finding]:
    """Findings of personal data in ``df``; an empty list means the upload may proceed.

    ``allowed_columns`` maps a column name to the reason it is allowed (for the audit
    trail, e.g. ``{"location": "police.uk anonymised street"}``). Allowed columns skip
    the column-name check and the softer value checks (names, house numbers, dates) but
    are still screened for STRICT_KINDS.

    ``first_row`` is the number reported for the frame's first row (1 = data rows counted from
    one; uploads pass 2 so numbers match a spreadsheet, whose row 1 is the header).
    """
    if not isinstance(df, pl.DataFrame):
        raise TypeError(f"screen() needs a polars DataFrame, not {type(df).__name__}")
    allowed = dict(allowed_columns or {})
    for col, reason in allowed.items():
        if not isinstance(reason, str) or not reason.strip():
            # An allowance without a reason cannot be audited later.
            raise ValueError(f"allowed column {col!r} needs a reason")

    findings: list[Finding] = []
    all_kinds = frozenset(_VALUE_KINDS_ORDER)

    for col in df.columns:
        # Under a fixed name: Polars reads a column name like "^…$" as a regex in some Series
        # methods (unique() raised on an uploaded header "^[$"); the heading is `col` anyway.
        s = df.get_column(col).alias("value")
        is_allowed = col in allowed
        kinds = STRICT_KINDS if is_allowed else all_kinds
        birth = _suggests_birth(col)

        if not is_allowed:
            named = _classify_column_name(col)
            if named:
                kind, what = named
                present = _as_text(s)
                nonempty = (present.str.strip_chars().str.len_chars() > 0) if present is not None else s.is_not_null()
                idx = nonempty.fill_null(False).arg_true()
                n = idx.len()
                example = _mask_cell(s[idx[0]]) if n else ""
                values_note = f"{n} non-empty value{'s' if n != 1 else ''}" if n else "no values yet"
                findings.append(Finding(
                    col, kind, [i + 1 for i in idx.head(MAX_ROWS).to_list()], n, example,
                    f"Column '{col}' is named like it holds {what} ({values_note})",
                ))

        text = _as_text(s)
        if text is None:
            if s.dtype.is_integer() or s.dtype.is_float():
                f = _numeric_nhs(col, s)
                if f:
                    findings.append(f)
            elif s.dtype.is_temporal() and s.dtype != pl.Time and s.dtype != pl.Duration and not is_allowed:
                f = _temporal_dates(col, s, birth)
                if f:
                    findings.append(f)
            continue

        distinct = text.drop_nulls().unique()
        hits = _detect(distinct, kinds, birth)
        for kind in _VALUE_KINDS_ORDER:
            if kind in hits:
                findings.append(_value_finding(col, kind, text, hits[kind]))
        if not is_allowed and _is_postcode_name(col):
            f = _postcode_column_finding(col, text, hits.get("postcode_full", {}))
            if f:
                findings.append(f)

    # Column headings themselves (pivoted tables sometimes have a column per person).
    headers = [c for c in df.columns if c not in allowed]
    if headers:
        hits = _detect(pl.Series("h", headers).unique(), _HEADER_KINDS, False)
        for kind in _VALUE_KINDS_ORDER:
            for head, token in hits.get(kind, {}).items():
                findings.append(Finding(
                    head, kind, [], 1, _mask(kind, token),
                    f"The column heading '{_mask(kind, head)}' itself looks like {KIND_LABELS[kind][0]}",
                ))
    if first_row != 1:
        for f in findings:
            if f.rows:
                shifted = [r + first_row - 1 for r in f.rows]
                suffix = f"({_rows_text(f.rows, f.count)})"
                if f.message.endswith(suffix):
                    f.message = f.message[: -len(suffix)] + f"({_rows_text(shifted, f.count)})"
                f.rows = shifted
    return findings


# --------------------------------------------------------------------------------------
# Transforms: each returns a new DataFrame and leaves the input untouched
# --------------------------------------------------------------------------------------

def drop_column(df: pl.DataFrame, col: str) -> pl.DataFrame:
    """Remove the column entirely."""
    return df.drop(col)


def _text_col(df: pl.DataFrame, col: str) -> pl.Expr:
    dtype = df.schema[col]
    if dtype == pl.String or dtype == pl.Null:
        return pl.col(col).cast(pl.String)
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return pl.col(col).cast(pl.String)
    raise TypeError(f"column {col!r} is {dtype}, expected text")


def _postcode_cut(df: pl.DataFrame, col: str, keep_sector: bool) -> pl.DataFrame:
    e = _text_col(df, col)
    # Same two rules as the screen, so everything the screen flags is cut: a whole
    # value in any case (normalised to upper case), or upper-case postcodes in text.
    whole = rf"(?i)^\s*({_PC_OUT})[\s-]*([0-9])[ABD-HJLNP-UW-Z]{{2}}\s*$"
    inner = rf"\b({_PC_OUT}) ?([0-9])[ABD-HJLNP-UW-Z]{{2}}\b"
    repl = "${1} ${2}" if keep_sector else "${1}"
    cut = (
        pl.when(e.str.contains(whole))
        .then(e.str.replace(whole, repl).str.to_uppercase())
        .otherwise(e.str.replace_all(inner, repl))
    )
    return df.with_columns(cut.alias(col))


def postcode_to_outward(df: pl.DataFrame, col: str) -> pl.DataFrame:
    """Cut full postcodes to the outward code (LN1 3AB → LN1)."""
    return _postcode_cut(df, col, keep_sector=False)


def postcode_to_sector(df: pl.DataFrame, col: str) -> pl.DataFrame:
    """Cut full postcodes to the postcode sector (LN1 3AB → LN1 3)."""
    return _postcode_cut(df, col, keep_sector=True)


_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_MON_CAP = _MON.replace("(?:", "(", 1)  # the same alternation, as a capture group


def date_to_month(df: pl.DataFrame, col: str) -> pl.DataFrame:
    """Reduce exact dates to year and month (12/03/2019 → 2019-03)."""
    dtype = df.schema[col]
    if dtype in (pl.Date,) or isinstance(dtype, pl.Datetime):
        return df.with_columns(pl.col(col).dt.strftime("%Y-%m").alias(col))
    e = _text_col(df, col)
    pivot = date.today().year % 100  # two-digit years: not in the future
    time = r"(?:[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9:]+)?)?"
    weekday = r"(?:[a-z]+,?\s+)?"
    # (anchored pattern, year group, month group, month-is-a-name)
    forms = [
        (rf"^\s*{_Y4}[-/.]{_M}[-/.]{_D}{time}\s*$", 1, 2, False),
        (rf"^\s*{_D}[/.-]{_M}[/.-]{_Y4}{time}\s*$", 3, 2, False),
        (rf"^\s*{_D}/{_M}/([0-9]{{2}})\s*$", 3, 2, False),
        (rf"(?i)^\s*{weekday}{_D}(?:st|nd|rd|th)?[\s-]+(?:of\s+)?{_MON_CAP}\.?,?[\s-]+((?:19|20)?[0-9]{{2}})\s*$", 3, 2, True),
        (rf"(?i)^\s*{weekday}{_MON_CAP}\.?\s+{_D}(?:st|nd|rd|th)?,?\s+((?:19|20)[0-9]{{2}})\s*$", 3, 1, True),
    ]
    years, months = [], []
    for pat, yg, mg, named in forms:
        y = e.str.extract(pat, yg)
        m = e.str.extract(pat, mg)
        if named:
            m = m.str.slice(0, 3).str.to_lowercase().replace_strict(_MONTHS, default=None, return_dtype=pl.Int32)
        else:
            m = m.cast(pl.Int32, strict=False)
        yi = y.cast(pl.Int32, strict=False)
        yi = (
            pl.when(y.str.len_chars() == 2)
            .then(pl.when(yi <= pivot).then(2000 + yi).otherwise(1900 + yi))
            .otherwise(yi)
        )
        years.append(yi)
        months.append(pl.when(y.is_not_null()).then(m))
    year = pl.coalesce(years)
    month = pl.coalesce(months)
    as_month = pl.format("{}-{}", year.cast(pl.String), month.cast(pl.String).str.zfill(2))
    # Unparsed values are left as they are rather than blanked, so a re-screen still
    # catches any day-level date this missed instead of it vanishing silently.
    return df.with_columns(
        pl.when(year.is_not_null() & month.is_not_null()).then(as_month).otherwise(e).alias(col)
    )


def age_to_band(
    df: pl.DataFrame, col: str, bands: tuple[int, ...] = (0, 10, 18, 25, 35, 50, 65)
) -> pl.DataFrame:
    """Replace exact ages with age bands (0-9, 10-17, 18-24, …, 65+)."""
    bands = tuple(bands)
    if not bands or any(int(b) != b for b in bands) or any(b >= c for b, c in zip(bands, bands[1:])):
        raise ValueError("bands must be strictly increasing whole numbers")
    e = pl.col(col)
    if df.schema[col] == pl.String:
        e = e.str.strip_chars()
    age = e.cast(pl.Float64, strict=False)
    out = pl.when(age >= bands[-1]).then(pl.lit(f"{bands[-1]}+"))
    for lo, hi in reversed(list(zip(bands, bands[1:]))):
        out = out.when(age >= lo).then(pl.lit(f"{lo}-{hi - 1}"))
    # Below the first band, non-numeric or missing: no band.
    return df.with_columns(out.otherwise(pl.lit(None, dtype=pl.String)).alias(col))


def coordinates_to_lsoa(
    df: pl.DataFrame,
    lon_col: str,
    lat_col: str,
    centroids: pl.DataFrame,
    *,
    max_km: float | None = None,
) -> pl.DataFrame:
    """Replace longitude/latitude with the nearest LSOA centroid's code and drop the coordinates.

    This is an approximation used when no LSOA boundary polygons are loaded: a point
    near a boundary can be given the neighbouring LSOA whose centroid is closer.
    ``centroids`` needs columns ``lsoa_code``, ``lon``, ``lat`` (WGS84 degrees).
    Distances use an equirectangular projection, accurate to well under 1% at the
    scale of an LSOA in England and Wales. Rows with missing or non-numeric
    coordinates, or (with ``max_km``) further than that from every centroid, get a
    null ``lsoa_code``. Cost is O(points × centroids), fine for a district's LSOAs.
    """
    if "lsoa_code" in df.columns and "lsoa_code" not in (lon_col, lat_col):
        # Refuse rather than overwrite a code the partner supplied.
        raise ValueError("df already has an lsoa_code column")
    cen = centroids.select(
        pl.col("lsoa_code").cast(pl.String),
        pl.col("lon").cast(pl.Float64, strict=False),
        pl.col("lat").cast(pl.Float64, strict=False),
    ).drop_nulls()
    if cen.height == 0:
        raise ValueError("centroids has no usable rows (need lsoa_code, lon, lat)")
    c_lat = cen["lat"].to_numpy()
    kx = math.cos(math.radians(float(np.mean(c_lat))))  # shrink longitude to local scale
    cx, cy = cen["lon"].to_numpy() * kx, c_lat
    px = df.get_column(lon_col).cast(pl.Float64, strict=False).to_numpy() * kx
    py = df.get_column(lat_col).cast(pl.Float64, strict=False).to_numpy()
    valid = np.isfinite(px) & np.isfinite(py)
    nearest = np.full(df.height, -1, dtype=np.int64)
    pts = np.flatnonzero(valid)
    chunk = max(1, 2_000_000 // len(cx))  # bound the distance matrix to ~16 MB
    for start in range(0, len(pts), chunk):
        sel = pts[start:start + chunk]
        d2 = (px[sel, None] - cx[None, :]) ** 2 + (py[sel, None] - cy[None, :]) ** 2
        best = d2.argmin(axis=1)
        if max_km is not None:
            km = np.sqrt(d2[np.arange(len(sel)), best]) * 111.32  # degrees of latitude -> km
            best = np.where(km <= max_km, best, -1)
        nearest[sel] = best
    codes = np.array(cen["lsoa_code"].to_list() + [None], dtype=object)
    assigned = pl.Series("lsoa_code", codes[nearest].tolist(), dtype=pl.String)
    return df.drop(lon_col, lat_col).with_columns(assigned)


TRANSFORMS: dict[str, Callable[..., pl.DataFrame]] = {
    "drop_column": drop_column,
    "postcode_to_outward": postcode_to_outward,
    "postcode_to_sector": postcode_to_sector,
    "date_to_month": date_to_month,
    "age_to_band": age_to_band,
    "coordinates_to_lsoa": coordinates_to_lsoa,
}
# One-line human description of each transform (its docstring's first line).
TRANSFORM_DESCRIPTIONS: dict[str, str] = {
    name: (fn.__doc__ or name).strip().splitlines()[0] for name, fn in TRANSFORMS.items()
}

# The standard fix for each kind: one that clears the finding on a re-screen.
# Dates of birth are dropped rather than cut to a month because the column would
# still be a (month of) birth column, which is still personal data. postcode_column
# values are ones the postcode transforms could not parse, so only dropping clears them.
_SUGGESTED: dict[str, str] = {
    "postcode_full": "postcode_to_sector",
    "exact_date": "date_to_month",
    **dict.fromkeys(
        ["nhs_number", "ni_number", "email", "phone", "pnc_id", "cro_number", "person_name",
         "house_number", "date_of_birth", "postcode_column", "name_column", "dob_column",
         "address_column",
         "contact_column", "identifier_column"],
        "drop_column",
    ),
}


def suggest_transform(finding: Finding) -> str | None:
    """Name of the standard transform in TRANSFORMS for this finding's kind, or None."""
    return _SUGGESTED.get(finding.kind)
