-- title: "Data quality: recorded crime by month"
-- description: >
--   Per month of the crime data you may see: records, records placed in a district by the
--   geography lookup (a valid LSOA), and how many crime types were used. Identifiers are the
--   owner's only (quality_crime_ids).
-- datasets: [crime]
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   records: {type: count, description: "Records"}
--   located: {type: count, description: "Records with a valid geography (LSOA found in the lookup)"}
--   pct_located: {type: derived, from: [records, located], expr: "round(100.0 * located / nullif(records, 0), 1)", description: "Share of records with a valid geography (%)"}
--   categories: {type: number, description: "Crime types used that month"}
SELECT month, total(n) AS records, total_if(n, district_code IS NOT NULL) AS located,
       count(DISTINCT crime_type) AS categories
FROM crime
GROUP BY month
ORDER BY month
