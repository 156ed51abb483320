-- title: "Data quality: crime identifiers by month (owner only)"
-- description: >
--   Per month: records with a police.uk crime identifier, and records whose identifier is used on
--   more than one record. Identifiers are restricted to the owning partner.
-- datasets: [crime]
-- access: owner
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   with_id: {type: count, description: "Records with a crime identifier"}
--   duplicate_ids: {type: count, description: "Records whose identifier is used on more than one record"}
WITH repeated AS (
  SELECT crime_id FROM crime WHERE crime_id IS NOT NULL GROUP BY crime_id HAVING count(*) > 1
)
SELECT month, total_if(n, crime_id IS NOT NULL) AS with_id,
       total_if(n, crime_id IN (SELECT crime_id FROM repeated)) AS duplicate_ids
FROM crime
GROUP BY month
ORDER BY month
