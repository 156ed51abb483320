-- title: "{{title}}: the latest year of cohorts against the year before"
-- description: >
--   The four most recent quarterly cohorts together (a year of cohorts) and the four before them:
--   size, outcome and (where held) events, for the partnership's area (default) or one district.
--   The windows are fixed (the latest cohort held), the same for everyone.
-- datasets: [{{ds}}]
-- system: [partnership, held]
-- held_of: {{ds}}
-- parameters:
--   area: {type: area, description: "District code, or all (default: the partnership)"}
--   {{f}}: {type: text, description: "{{f_label}} (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- columns:
--   first_quarter: {type: date, description: "First cohort quarter of the latest year"}
--   last_quarter: {type: date, description: "Latest cohort quarter"}
--   {{size}}: {type: count, description: "{{size_label}}, latest year"}
--   {{outcome}}: {type: count, description: "{{outcome_label}}, latest year"}
--   {{events}}: {type: count, description: "{{events_label}}, latest year"} {{?events}}
--   prev_{{size}}: {type: count, description: "{{size_label}}, the year before"}
--   prev_{{outcome}}: {type: count, description: "{{outcome_label}}, the year before"}
--   rate_pct: {type: derived, from: [{{size}}, {{outcome}}], expr: "round(100.0 * {{outcome}} / nullif({{size}}, 0), 1)", description: "{{rate_label}}, latest year, %"}
--   prev_rate_pct: {type: derived, from: [prev_{{size}}, prev_{{outcome}}], expr: "round(100.0 * prev_{{outcome}} / nullif(prev_{{size}}, 0), 1)", description: "{{rate_label}}, the year before, %"}
--   per_member: {type: derived, from: [{{size}}, {{events}}], expr: "round(1.0 * {{events}} / nullif({{size}}, 0), 2)", description: "{{events_label}} per member of the cohort"} {{?events}}
--   per_outcome: {type: derived, from: [{{outcome}}, {{events}}], expr: "round(1.0 * {{events}} / nullif({{outcome}}, 0), 2)", description: "{{events_label}} per member with the outcome"} {{?events}}
WITH bounds AS (
    SELECT CAST($held_last AS DATE) AS last_quarter
), tagged AS (
    SELECT r.*, r.{{period}} > CAST(b.last_quarter - INTERVAL 12 MONTH AS DATE) AS latest
    FROM {{ds}} r, bounds b
    WHERE r.{{period}} > CAST(b.last_quarter - INTERVAL 24 MONTH AS DATE)
      AND in_area(r.{{ward}}, r.{{district}}, $area, $partnership)
      AND (${{f}} IS NULL OR r.{{f}} = ${{f}}) {{*f}}
)
SELECT (SELECT CAST(last_quarter - INTERVAL 9 MONTH AS DATE) FROM bounds) AS first_quarter,
       (SELECT last_quarter FROM bounds) AS last_quarter,
       total_if({{size}}, latest) AS {{size}}, total_if({{outcome}}, latest) AS {{outcome}},
       total_if({{events}}, latest) AS {{events}}, {{?events}}
       total_if({{size}}, NOT latest) AS prev_{{size}}, total_if({{outcome}}, NOT latest) AS prev_{{outcome}}
FROM tagged
