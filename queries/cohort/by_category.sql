-- title: "{{title}} by {{filter_label}}, latest year of cohorts"
-- description: >
--   The four most recent quarterly cohorts together, and the four before them, per
--   {{filter_label}}: size, outcome and (where held) events, for the partnership's area (default)
--   or one district.
-- per: filter
-- name: "{{ds}}_by_{{filter}}"
-- datasets: [{{ds}}]
-- system: [partnership, held]
-- held_of: {{ds}}
-- parameters:
--   area: {type: area, description: "District code, or all (default: the partnership)"}
-- columns:
--   {{filter}}: {type: dimension, description: "{{filter_label}}"}
--   {{size}}: {type: count, description: "{{size_label}}, latest year"}
--   {{outcome}}: {type: count, description: "{{outcome_label}}, latest year"}
--   {{events}}: {type: count, description: "{{events_label}}, latest year"} {{?events}}
--   prev_{{size}}: {type: count, description: "{{size_label}}, the year before"}
--   prev_{{outcome}}: {type: count, description: "{{outcome_label}}, the year before"}
--   rate_pct: {type: derived, from: [{{size}}, {{outcome}}], expr: "round(100.0 * {{outcome}} / nullif({{size}}, 0), 1)", description: "{{rate_label}}, latest year, %"}
--   prev_rate_pct: {type: derived, from: [prev_{{size}}, prev_{{outcome}}], expr: "round(100.0 * prev_{{outcome}} / nullif(prev_{{size}}, 0), 1)", description: "{{rate_label}}, the year before, %"}
WITH bounds AS (
    SELECT CAST($held_last AS DATE) AS last_quarter
), tagged AS (
    SELECT r.*, r.{{period}} > CAST(b.last_quarter - INTERVAL 12 MONTH AS DATE) AS latest
    FROM {{ds}} r, bounds b
    WHERE r.{{period}} > CAST(b.last_quarter - INTERVAL 24 MONTH AS DATE)
      AND r.{{filter}} IS NOT NULL
      AND in_area(r.{{ward}}, r.{{district}}, $area, $partnership)
)
SELECT {{filter}},
       total_if({{size}}, latest) AS {{size}}, total_if({{outcome}}, latest) AS {{outcome}},
       total_if({{events}}, latest) AS {{events}}, {{?events}}
       total_if({{size}}, NOT latest) AS prev_{{size}}, total_if({{outcome}}, NOT latest) AS prev_{{outcome}}
FROM tagged
GROUP BY {{filter}}
ORDER BY {{filter}}
