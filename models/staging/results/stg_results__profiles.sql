-- The current version of every asv profile: one row per result file x benchmark x function, from the
-- version of each file the profiles loader read last (raw.asv_profile_reads), so a file rewritten
-- without profiles has none here (raw.asv_profiles keeps every version).
-- function_path is the function's file with the parts that name where it ran cut off (everything up
-- to site-packages/ or dist-packages/, and the benchmark runner's slot worktree), so the same function
-- has the same path in two environments or slots.
with current_reads as (
    select origin, source_name, relative_path, file_sha256
    from {{ source('results_profiles', 'asv_profile_reads') }}
    qualify row_number() over (
        partition by origin, source_name, relative_path order by read_at desc, file_sha256
    ) = 1
),

latest as (
    select profiles.*
    from {{ source('results_profiles', 'asv_profiles') }} as profiles
    join current_reads using (origin, source_name, relative_path, file_sha256)
)

select
    origin,
    source_name,
    relative_path                                        as file_path,
    file_sha256,
    repo,
    machine,
    env_name,
    commit_hash,
    benchmark,
    profile_sha256,
    file                                                 as function_file,
    line                                                 as function_line,
    function                                             as function_name,
    regexp_replace(
        regexp_replace(file, '^.*/(site|dist)-packages/', ''),
        '^.*/worktrees/[^/]+/slot-[0-9]+/', ''
    )                                                    as function_path,
    -- pstats' own label (pstats.func_std_string): file:line(function), or the built-in's name
    case
        when file = '~' and line = 0 and function like '<%>' then '{' || function[2:-2] || '}'
        when file = '~' and line = 0 then function
        else file || ':' || line || '(' || function || ')'
    end                                                  as function_label,
    primitive_calls,
    total_calls,
    total_time,
    cumulative_time,
    loaded_at
from latest
