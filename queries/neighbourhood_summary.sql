-- title: One ward against its district, by crime type and ASB
-- description: >
--   Recorded crimes (all and by police.uk type) and ASB incidents in the 12 months to the latest
--   month held and the 12 months before, for one ward and for the part of its district you may
--   see, with resident populations for rates per 1,000.
-- datasets: [crime_ward_cube, asb_ward_cube, geography]
-- grain: ward
-- parameters:
--   ward: {type: area, required: true, description: "Ward code"}
-- order: [-is_all, -is_asb, -ward_current, category]
-- columns:
--   category: {type: dimension, description: "All crime, a crime type, or Anti-social behaviour"}
--   is_all: {type: number, description: "1 for the All crime row (for ordering)"}
--   is_asb: {type: number, description: "1 for the ASB row (for ordering)"}
--   last_month: {type: date, description: "Last month of the latest 12 months"}
--   ward_current: {type: count, description: "In the ward, latest 12 months"}
--   ward_previous: {type: count, description: "In the ward, 12 months before"}
--   district_current: {type: count, description: "In the district (the part you may see), latest 12 months"}
--   district_previous: {type: count, description: "In the district (the part you may see), 12 months before"}
--   ward_population: {type: number, description: "Ward resident population"}
--   district_population: {type: number, description: "Resident population of the part of the district you may see"}
--   district_wards: {type: number, description: "Wards of the district you may see"}
WITH here AS (
    SELECT any_value(district_code) AS district_code, CAST(sum(population) AS BIGINT) AS ward_population
    FROM geography WHERE ward_code = $ward
), dist AS (
    SELECT CAST(sum(g.population) AS BIGINT) AS district_population, count(DISTINCT g.ward_code) AS district_wards
    FROM geography g, here h WHERE g.district_code = h.district_code
), bounds AS (
    -- The period's cut-off months, computed once rather than for every row.
    SELECT last_month, CAST(last_month - INTERVAL 12 MONTH AS DATE) AS cut12,
           CAST(last_month - INTERVAL 24 MONTH AS DATE) AS cut24
    FROM (SELECT max(month) AS last_month FROM crime_ward_cube)
), events AS (
    SELECT 'All crime' AS category, month, ward_code, district_code, n FROM crime_ward_cube
    UNION ALL SELECT crime_type, month, ward_code, district_code, n FROM crime_ward_cube
    UNION ALL SELECT 'Anti-social behaviour', month, ward_code, district_code, n FROM asb_ward_cube
), tallied AS (
    SELECT e.category,
           total_if(e.n, e.ward_code = $ward AND e.month > b.cut12) AS ward_current,
           total_if(e.n, e.ward_code = $ward AND e.month <= b.cut12) AS ward_previous,
           total_if(e.n, e.month > b.cut12) AS district_current,
           total_if(e.n, e.month <= b.cut12) AS district_previous
    FROM events e, bounds b, here h
    WHERE e.district_code = h.district_code AND e.month > b.cut24
      AND e.month <= b.last_month
    GROUP BY e.category
)
SELECT t.category, CAST(t.category = 'All crime' AS INT) AS is_all,
       CAST(t.category = 'Anti-social behaviour' AS INT) AS is_asb, b.last_month, t.ward_current, t.ward_previous, t.district_current, t.district_previous,
       h.ward_population, d.district_population, d.district_wards
FROM tallied t, bounds b, here h, dist d
WHERE h.district_code IS NOT NULL
ORDER BY t.category
