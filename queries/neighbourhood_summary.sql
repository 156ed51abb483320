-- title: One ward against a fair comparator, by crime type and ASB
-- description: >
--   Recorded crimes (all and by police.uk type) and ASB incidents in the latest 12 months held and
--   the 12 before, in one ward and in its comparator: the partnership's area for a user who may
--   see all of it, or, for a user limited to some wards, their other wards. With resident
--   populations (and their year) for rates per 1,000 residents a year, and the months of each
--   period inside the data held (a change is tested only when both periods are whole).
-- datasets: [crime_ward_cube, asb_ward_cube, areas]
-- system: [partnership, held, scope]
-- held_of: crime
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
--   ward_previous: {type: count, description: "In the ward, the 12 months before"}
--   comparator_current: {type: count, description: "In the comparator area, latest 12 months"}
--   ward_population: {type: number, description: "Ward resident population"}
--   comparator_population: {type: number, description: "Comparator area's resident population (blank when any part has none held)"}
--   population_year: {type: number, description: "Mid-year estimate year of the populations"}
--   comparator: {type: dimension, description: "partnership, or other wards (a user limited to some wards)"}
--   comparator_wards: {type: number, description: "Wards in the comparator area"}
--   current_months_held: {type: number, description: "Months of the latest 12 inside the data held"}
--   previous_months_held: {type: number, description: "Months of the 12 before inside the data held"}
WITH bounds AS (
    SELECT CAST($held_last AS DATE) AS last_month,
           CAST(CAST($held_last AS DATE) - INTERVAL 12 MONTH AS DATE) AS cut12,
           CAST(CAST($held_last AS DATE) - INTERVAL 24 MONTH AS DATE) AS cut24
), events AS (
    SELECT 'All crime' AS category, month, ward_code, district_code, n FROM crime_ward_cube
    UNION ALL SELECT crime_type, month, ward_code, district_code, n FROM crime_ward_cube
    UNION ALL SELECT 'Anti-social behaviour', month, ward_code, district_code, n FROM asb_ward_cube
), tallied AS (
    -- The comparator: the partnership's districts for a user who may see them all; for a user
    -- limited to some wards (the scope filter already keeps only theirs), their other wards.
    SELECT e.category,
           total_if(e.n, e.ward_code = $ward AND e.month > b.cut12) AS ward_current,
           total_if(e.n, e.ward_code = $ward AND e.month <= b.cut12) AS ward_previous,
           total_if(e.n, e.month > b.cut12 AND CASE WHEN $scope_wards IS NULL
                    THEN e.district_code IS NOT NULL AND ($partnership IS NULL OR list_contains($partnership, e.district_code))
                    ELSE e.ward_code IS NOT NULL AND e.ward_code <> $ward END) AS comparator_current
    FROM events e, bounds b
    WHERE e.month > b.cut24 AND e.month <= b.last_month
    GROUP BY e.category
), here AS (
    SELECT any_value(population) AS ward_population, any_value(population_year) AS ward_year
    FROM areas WHERE area_level = 'ward' AND area_code = $ward
), comp AS (
    SELECT CASE WHEN count(*) > 0 AND count(*) = count(population) THEN sum(population) END AS comparator_population,
           max(population_year) AS comparator_year,
           (SELECT count(*) FROM areas w WHERE w.area_level = 'ward' AND CASE WHEN $scope_wards IS NULL
                THEN $partnership IS NULL OR list_contains($partnership, w.district_code)
                ELSE list_contains($scope_wards, w.area_code) AND w.area_code <> $ward END) AS comparator_wards
    FROM areas
    WHERE CASE WHEN $scope_wards IS NULL
               THEN area_level = 'district' AND ($partnership IS NULL OR list_contains($partnership, area_code))
               ELSE area_level = 'ward' AND list_contains($scope_wards, area_code) AND area_code <> $ward END
)
SELECT t.category, CAST(t.category = 'All crime' AS INT) AS is_all,
       CAST(t.category = 'Anti-social behaviour' AS INT) AS is_asb, b.last_month,
       t.ward_current, t.ward_previous, t.comparator_current,
       CAST(h.ward_population AS BIGINT) AS ward_population,
       CAST(c.comparator_population AS BIGINT) AS comparator_population,
       greatest(h.ward_year, c.comparator_year) AS population_year,
       CASE WHEN $scope_wards IS NULL THEN 'partnership' ELSE 'other wards' END AS comparator,
       c.comparator_wards,
       (SELECT date_diff('month', greatest(cut12 + INTERVAL 1 MONTH, CAST($held_first AS DATE)), last_month) + 1 FROM bounds) AS current_months_held,
       (SELECT greatest(0, date_diff('month', greatest(cut24 + INTERVAL 1 MONTH, CAST($held_first AS DATE)), cut12) + 1) FROM bounds) AS previous_months_held
FROM tallied t, bounds b, here h, comp c
-- No rows for a ward outside what the user may see (areas are public: not filtered by scope).
WHERE EXISTS (SELECT 1 FROM areas WHERE area_level = 'ward' AND area_code = $ward)
  AND ($scope_wards IS NULL OR list_contains($scope_wards, $ward))
ORDER BY t.category
