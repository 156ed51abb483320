-- title: "Data quality: recorded crime by month"
-- description: >
--   Per month of the crime data you may see: records, records placed in a district by the
--   geography lookup (a valid LSOA), records with an identifier, records whose identifier also
--   appears on another record, and how many crime types were used.
-- datasets: [crime]
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   records: {type: count, description: "Records"}
--   located: {type: count, description: "Records with a valid geography (LSOA found in the lookup)"}
--   pct_located: {type: derived, from: [records, located], description: "Share of records with a valid geography (%)"}
--   with_id: {type: count, description: "Records with a crime identifier (owner only)"}
--   duplicate_ids: {type: count, description: "Records whose identifier is used on more than one record (owner only)"}
--   categories: {type: number, description: "Crime types used that month"}
WITH repeated AS (
  SELECT crime_id FROM crime WHERE crime_id IS NOT NULL GROUP BY crime_id HAVING count(*) > 1
)
SELECT month, count(*) AS records, count(district_code) AS located,
       round(100.0 * count(district_code) / count(*), 1) AS pct_located,
       count(crime_id) AS with_id,
       count(*) FILTER (WHERE crime_id IN (SELECT crime_id FROM repeated)) AS duplicate_ids,
       count(DISTINCT crime_type) AS categories
FROM crime
GROUP BY month
ORDER BY month
