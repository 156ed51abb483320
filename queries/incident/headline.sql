-- title: "{{title}}, 12 months against the 12 before"
-- description: >
--   {{label}} in the 12 months ending with the chosen month (default: the latest month held) and in
--   the 12 months before, for the partnership's area (default), one ward or district, or all data
--   held, with the months of each period that lie inside the data held (a comparison is fair only
--   when both periods are wholly inside it).
-- datasets: [{{ward_cube}}]
-- system: [partnership, held]
-- held_of: {{ds}}
-- parameters:
--   to: {type: month, period: end12, description: "Last month of the current 12 months, YYYY-MM"}
--   area: {type: area, description: "Ward or district code, or all (default: the partnership)"}
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"} {{?cat}}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- columns:
--   last_month: {type: date, description: "Last month of the current 12 months"}
--   current: {type: count, description: "{{label}} in the 12 months to last_month"}
--   previous: {type: count, description: "{{label}} in the 12 months before that"}
--   current_months_held: {type: number, description: "Months of the current period inside the data held"}
--   previous_months_held: {type: number, description: "Months of the previous period inside the data held"}
--   pct_change: {type: derived, from: [current, previous], expr: "round(100.0 * (current - previous) / nullif(previous, 0), 1)", description: "Change, % of previous"}
WITH bounds AS (
    -- The period's cut-off months, computed once rather than for every row.
    SELECT last_month, CAST(last_month - INTERVAL 12 MONTH AS DATE) AS cut12,
           CAST(last_month - INTERVAL 24 MONTH AS DATE) AS cut24
    FROM (SELECT coalesce($to, CAST($held_last AS DATE)) AS last_month)
), scoped AS (
    SELECT c.{{period}} AS month, c.{{measure}} AS n, b.cut12
    FROM {{ward_cube}} c, bounds b
    WHERE in_area(c.{{ward}}, c.{{district}}, $area, $partnership)
      AND (${{cat}} IS NULL OR list_contains(${{cat}}, c.{{cat}})) {{?cat}}
      AND (${{f}} IS NULL OR list_contains(${{f}}, c.{{f}})) {{*f}}
      AND c.{{period}} > b.cut24 AND c.{{period}} <= b.last_month
)
SELECT
    (SELECT last_month FROM bounds) AS last_month, {{!quarter}}
    -- Quarterly data are dated by each quarter's first month: the 12 months are the 4 quarters {{?quarter}}
    -- starting after cut12 and end with the last month of the quarter holding last_month. {{?quarter}}
    (SELECT CAST(date_trunc('quarter', last_month) + INTERVAL 2 MONTH AS DATE) FROM bounds) AS last_month, {{?quarter}}
    total_if(n, month > cut12) AS current,
    total_if(n, month <= cut12) AS previous,
    (SELECT date_diff('month', greatest(cut12 + INTERVAL 1 MONTH, CAST($held_first AS DATE)), least(last_month, CAST($held_last AS DATE))) + 1 FROM bounds) AS current_months_held, {{!quarter}}
    (SELECT greatest(0, date_diff('month', greatest(cut24 + INTERVAL 1 MONTH, CAST($held_first AS DATE)), least(cut12, CAST($held_last AS DATE))) + 1) FROM bounds) AS previous_months_held {{!quarter}}
    (SELECT date_diff('month', greatest(date_trunc('quarter', cut12) + INTERVAL 3 MONTH, CAST($held_first AS DATE)), date_trunc('quarter', least(last_month, CAST($held_last AS DATE))) + INTERVAL 2 MONTH) + 1 FROM bounds) AS current_months_held, {{?quarter}}
    (SELECT greatest(0, date_diff('month', greatest(date_trunc('quarter', cut24) + INTERVAL 3 MONTH, CAST($held_first AS DATE)), date_trunc('quarter', least(cut12, CAST($held_last AS DATE))) + INTERVAL 2 MONTH) + 1) FROM bounds) AS previous_months_held {{?quarter}}
FROM scoped
