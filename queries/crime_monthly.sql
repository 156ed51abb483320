-- title: Monthly recorded crime by type
-- description: >
--   Recorded crimes per month and police.uk crime type (as published that month), for the
--   whole partnership area or one ward or district. Crimes with no known location are included
--   when no area is chosen.
-- datasets: [crime_ward_cube]
-- parameters:
--   from: {type: month, description: "First month, YYYY-MM (default: the first month held)"}
--   to: {type: month, description: "Last month, YYYY-MM (default: the latest month held)"}
--   area: {type: area, description: "Ward or district code (default: everywhere you may see)"}
--   crime_type: {type: text_list, description: "Crime types to include, comma-separated (default: all)"}
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   crime_type: {type: dimension, description: "police.uk crime type"}
--   crimes: {type: count, description: "Recorded crimes"}
SELECT month, crime_type, total(n) AS crimes
FROM crime_ward_cube
WHERE ($from IS NULL OR month >= $from)
  AND ($to IS NULL OR month <= $to)
  AND ($area IS NULL OR ward_code = $area OR district_code = $area)
  AND ($crime_type IS NULL OR list_contains($crime_type, crime_type))
GROUP BY month, crime_type
ORDER BY month, crime_type
