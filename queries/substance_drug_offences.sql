-- title: Drug offences recorded by the police, per month
-- description: >
--   Crimes of police.uk type 'Drugs' per month. police.uk publishes one 'Drugs' category, so
--   possession and supply cannot be told apart in this data.
-- datasets: [crime_ward_cube]
-- parameters:
--   area: {type: area, description: "Ward or district code (default: everywhere you may see)"}
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   drug_offences: {type: count, description: "Recorded drug offences"}
SELECT month, total_if(n, crime_type = 'Drugs' OR crime_category = 'Drugs') AS drug_offences
FROM crime_ward_cube
WHERE ($area IS NULL OR ward_code = $area OR district_code = $area)
GROUP BY month
ORDER BY month
