-- title: "Data quality: anti-social behaviour by month"
-- description: Per month of the ASB data you may see, records and records placed in a district by the geography lookup.
-- datasets: [asb]
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   records: {type: count, description: "Records"}
--   located: {type: count, description: "Records with a valid geography (LSOA found in the lookup)"}
--   pct_located: {type: derived, from: [records, located], expr: "round(100.0 * located / nullif(records, 0), 1)", description: "Share of records with a valid geography (%)"}
SELECT month, total(n) AS records, total_if(n, district_code IS NOT NULL) AS located
FROM asb
GROUP BY month
ORDER BY month
