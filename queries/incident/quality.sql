-- title: "Data quality: {{noun}} by month"
-- description: >
--   Per month of the {{noun}} you may see: records, records placed in a district by the geography
--   lookup, records in the partnership's districts{{?cat}}, and how many {{cat_label}}s were used{{?cat}}.
-- name: "quality_{{ds}}"
-- datasets: [{{ward_cube}}]
-- system: [partnership]
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   records: {type: count, description: "Records"}
--   located: {type: count, description: "Records with a valid geography (LSOA found in the lookup)"}
--   in_partnership: {type: count, description: "Records in the partnership's districts"}
--   pct_located: {type: derived, from: [records, located], expr: "round(100.0 * located / nullif(records, 0), 1)", description: "Share of records with a valid geography (%)"}
--   categories: {type: number, description: "{{cat_label}}s used that month"} {{?cat}}
SELECT {{period}} AS month, total({{measure}}) AS records, total_if({{measure}}, {{district}} IS NOT NULL) AS located,
       total_if({{measure}}, $partnership IS NULL OR list_contains($partnership, {{district}})) AS in_partnership,
       count(DISTINCT {{cat}}) AS categories {{?cat}}
FROM {{ward_cube}}
GROUP BY {{period}}
ORDER BY {{period}}
