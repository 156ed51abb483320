-- title: Alcohol-related hospital admissions (Fingertips)
-- description: >
--   Admission episodes for alcohol-related conditions (narrow definition), directly age-standardised
--   rate per 100,000, for each area you may see and England, with Fingertips' own comparison with
--   England.
-- datasets: [alcohol_admissions]
-- columns:
--   area_code: {type: dimension, description: "Area code"}
--   area_name: {type: dimension, description: "Area name"}
--   period: {type: dimension, description: "Financial year"}
--   value: {type: number, description: "Standardised rate per 100,000"}
--   significance: {type: dimension, description: "Fingertips comparison with England"}
SELECT area_code, area_name, period, value, significance
FROM alcohol_admissions
ORDER BY period, area_code = 'E92000001', area_name
