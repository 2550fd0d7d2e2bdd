-- The change points that made a benchmark faster (or leaner): improvements that are significant
-- and at least as large as the magnitude floor. Same columns as fct_change_points.
select *
from {{ ref('fct_change_points') }}
where direction = 'improvement'
  and significant
  and passes_floor
