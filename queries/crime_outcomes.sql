-- title: Crime outcomes
-- description: >
--   Recorded crimes in the chosen period by the last outcome police.uk gives for them. Crimes
--   with no outcome given are left out; recent crimes are often still under investigation.
-- datasets: [crime_outcome_cube]
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code"}
--   crime_type: {type: text_list, description: "Crime types to include (default: all)"}
-- order: [-crimes, outcome]
-- columns:
--   outcome: {type: dimension, description: "Last outcome category"}
--   crimes: {type: count, description: "Crimes whose last outcome is this"}
SELECT outcome, total(n) AS crimes
FROM crime_outcome_cube
WHERE outcome IS NOT NULL AND outcome <> ''
  AND ($from IS NULL OR month >= $from)
  AND ($to IS NULL OR month <= $to)
  AND ($area IS NULL OR ward_code = $area OR district_code = $area)
  AND ($crime_type IS NULL OR list_contains($crime_type, crime_type))
GROUP BY outcome
ORDER BY outcome
