-- title: Crime by type
-- description: Recorded crimes per police.uk crime type in the chosen period and area.
-- datasets: [crime_ward_cube]
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code"}
--   crime_type: {type: text_list, description: "Crime types to include (default: all)"}
-- order: [-crimes, crime_type]
-- columns:
--   crime_type: {type: dimension, description: "police.uk crime type"}
--   crimes: {type: count, description: "Recorded crimes in the period"}
SELECT crime_type, total(n) AS crimes
FROM crime_ward_cube
WHERE ($from IS NULL OR month >= $from)
  AND ($to IS NULL OR month <= $to)
  AND ($area IS NULL OR ward_code = $area OR district_code = $area)
  AND ($crime_type IS NULL OR list_contains($crime_type, crime_type))
GROUP BY crime_type
ORDER BY crime_type
