-- title: "Data quality: anti-social behaviour by month"
-- description: Per month of the ASB data you may see, records and records placed in a district by the geography lookup.
-- datasets: [asb]
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   records: {type: count, description: "Records"}
--   located: {type: count, description: "Records with a valid geography (LSOA found in the lookup)"}
--   pct_located: {type: derived, from: [records, located], description: "Share of records with a valid geography (%)"}
SELECT month, count(*) AS records, count(district_code) AS located,
       round(100.0 * count(district_code) / count(*), 1) AS pct_located
FROM asb
GROUP BY month
ORDER BY month
