-- title: Crime benchmark for the area you may see
-- description: >
--   Recorded crimes with a known location in the chosen period across the whole area you may
--   see (the district, for partnership-wide users), with its resident population and rate per
--   1,000: the benchmark that ward and LSOA rates are compared with.
-- datasets: [crime_ward_cube, geography]
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   crime_type: {type: text_list, description: "Crime types to include (default: all)"}
-- columns:
--   crimes: {type: count, description: "Recorded crimes with a known location"}
--   population: {type: number, description: "Resident population of the area you may see"}
--   wards: {type: number, description: "Wards in the area you may see"}
--   districts: {type: number, description: "Districts in the area you may see"}
--   rate_per_1000: {type: derived, from: [crimes], expr: "round(1000.0 * crimes / nullif(population, 0), 2)", description: "Crimes per 1,000 residents"}
WITH pop AS (
    SELECT CAST(sum(population) AS BIGINT) AS population, count(DISTINCT ward_code) AS wards,
           count(DISTINCT district_code) AS districts FROM geography
), n AS (
    SELECT total(n) AS crimes
    FROM crime_ward_cube
    WHERE district_code IS NOT NULL
      AND ($from IS NULL OR month >= $from)
      AND ($to IS NULL OR month <= $to)
      AND ($crime_type IS NULL OR list_contains($crime_type, crime_type))
)
SELECT n.crimes, pop.population, pop.wards, pop.districts
FROM n, pop
