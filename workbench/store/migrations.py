"""Schema migrations: named functions applied in order on open, recorded in ``_migrations``."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(
        """
        CREATE TABLE models (
            model_id VARCHAR PRIMARY KEY,      -- fingerprint of config + weights (or adapter + base)
            name VARCHAR NOT NULL,             -- the name the user gave it (--model NAME=SPEC)
            spec VARCHAR,                      -- what the user passed
            base VARCHAR,                      -- base model dir or hub id
            adapter VARCHAR,                   -- PEFT adapter dir, when there is one
            parent_id VARCHAR,                 -- the model this one was tuned from
            kind VARCHAR,                      -- 'full' | 'adapter'
            meta VARCHAR,                      -- JSON
            created_at TIMESTAMP DEFAULT current_timestamp
        )
        """
    )
    db.execute(
        """
        CREATE TABLE suites (
            suite_id VARCHAR PRIMARY KEY,      -- name@fingerprint-prefix
            name VARCHAR NOT NULL,
            source VARCHAR NOT NULL,           -- 'custom' | 'lm-eval'
            path VARCHAR,
            fingerprint VARCHAR NOT NULL,      -- hash of its items and settings
            config VARCHAR,                    -- JSON of the suite definition
            created_at TIMESTAMP DEFAULT current_timestamp
        )
        """
    )
    db.execute(
        """
        CREATE TABLE items (
            suite_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            prompt VARCHAR,
            messages VARCHAR,                  -- JSON chat messages, when the item has them
            reference VARCHAR,
            context VARCHAR,
            tags VARCHAR[],
            split VARCHAR DEFAULT 'eval',      -- 'eval' | 'train'
            meta VARCHAR,                      -- JSON of any other fields
            PRIMARY KEY (suite_id, item_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            model_id VARCHAR NOT NULL,
            model_name VARCHAR,
            suite_id VARCHAR NOT NULL,
            config_key VARCHAR NOT NULL,       -- hash(model, suite, generation config): resume identity
            gen_config VARCHAR,                -- JSON
            status VARCHAR NOT NULL,           -- 'running' | 'finished' | 'failed'
            seed BIGINT,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            versions VARCHAR,                  -- JSON of library versions
            metrics VARCHAR,                   -- JSON of aggregate metrics
            error VARCHAR
        )
        """
    )
    db.execute(
        """
        CREATE TABLE outputs (
            output_id VARCHAR PRIMARY KEY,     -- hash(run_id, item_id)
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            text VARCHAR,
            rendered_prompt VARCHAR,
            tokens_in INTEGER,
            tokens_out INTEGER,
            finish_reason VARCHAR,             -- 'eos' | 'stop' | 'length'
            latency_s DOUBLE,
            cache_key VARCHAR,                 -- hash(model fingerprint, rendered prompt, gen config)
            cached BOOLEAN DEFAULT false,      -- served from an earlier run's output
            metrics VARCHAR,                   -- JSON of per-sample metrics
            created_at TIMESTAMP DEFAULT current_timestamp
        )
        """
    )
    db.execute("CREATE INDEX outputs_run ON outputs(run_id)")
    db.execute("CREATE INDEX outputs_cache ON outputs(cache_key)")
    db.execute(
        """
        CREATE TABLE findings (
            output_id VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            check_name VARCHAR NOT NULL,
            check_version VARCHAR,
            category VARCHAR NOT NULL,
            flagged BOOLEAN NOT NULL,
            score DOUBLE,
            severity VARCHAR,
            spans VARCHAR,                     -- JSON [[start, end], ...] into the output text
            message VARCHAR,
            evidence VARCHAR,                  -- JSON
            error VARCHAR,                     -- set when the check raised on this output
            PRIMARY KEY (output_id, check_name)
        )
        """
    )
    db.execute("CREATE INDEX findings_run ON findings(run_id)")
    db.execute(
        """
        CREATE TABLE suggestion_sets (
            set_id VARCHAR PRIMARY KEY,
            run_id VARCHAR,
            pool VARCHAR,
            n_suggestions INTEGER,
            n_dropped_contaminated INTEGER,
            config VARCHAR,
            export_path VARCHAR,
            created_at TIMESTAMP DEFAULT current_timestamp
        )
        """
    )
    db.execute(
        """
        CREATE TABLE suggestions (
            suggestion_id VARCHAR PRIMARY KEY,
            set_id VARCHAR NOT NULL,
            category VARCHAR,
            prompt VARCHAR,
            target VARCHAR,
            messages VARCHAR,                  -- JSON chat messages (the exported form)
            source_item_ids VARCHAR[],
            source_output_ids VARCHAR[],
            pool_row VARCHAR,
            similarity DOUBLE,
            repaired BOOLEAN,
            provenance VARCHAR                 -- JSON: why this example was chosen
        )
        """
    )
    db.execute(
        """
        CREATE TABLE trainings (
            training_id VARCHAR PRIMARY KEY,
            parent_model_id VARCHAR,
            result_model_id VARCHAR,
            set_id VARCHAR,
            trainer VARCHAR,
            config VARCHAR,                    -- JSON
            loss_curve VARCHAR,                -- JSON [[step, loss], ...]
            adapter_path VARCHAR,
            status VARCHAR,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            metrics VARCHAR
        )
        """
    )


@migration
def m002_lmeval_samples(db: duckdb.DuckDBPyConnection) -> None:
    """What lm-eval logged for each sample of an lm-eval run, beside its output row."""
    db.execute(
        """
        CREATE TABLE lmeval_samples (
            output_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,          -- task/doc_id
            task VARCHAR NOT NULL,
            doc_id INTEGER,
            output_type VARCHAR,               -- generate_until | multiple_choice | loglikelihood...
            target VARCHAR,                    -- JSON: what doc_to_target gave
            arguments VARCHAR,                 -- JSON: the request arguments, one per request
            resps VARCHAR,                     -- JSON: raw responses, one list per request
            filtered_resps VARCHAR,            -- JSON: {filter name: filtered responses}
            metrics VARCHAR                    -- JSON: {filter name: per-sample metrics}
        )
        """
    )
    db.execute("CREATE INDEX lmeval_samples_run ON lmeval_samples(run_id)")


@migration
def m003_lookup_indexes(db: duckdb.DuckDBPyConnection) -> None:
    """Point lookups by output and by item: the failure browser reads a page's findings by
    output id and its items by item id. Both tables' primary keys are composite, which DuckDB
    cannot use for a lookup on their first or second column alone (a scan of 3M findings took
    ~55 ms per page, an indexed lookup ~4 ms)."""
    db.execute("CREATE INDEX findings_output ON findings(output_id)")
    db.execute("CREATE INDEX items_item ON items(item_id)")


@migration
def m004_flagged_categories(db: duckdb.DuckDBPyConnection) -> None:
    """Each output's flagged categories, beside it: the failure browser's commonest filter
    (flagged outputs of some categories, with a text search) then needs no join of a million
    outputs with three million findings (a page at 1M outputs: ~170 ms -> ~60 ms of query).
    The store keeps it in step whenever findings are written; existing outputs are filled in
    here."""
    db.execute("ALTER TABLE outputs ADD COLUMN flagged_categories VARCHAR[]")
    db.execute(
        "UPDATE outputs SET flagged_categories = f.cats FROM ("
        " SELECT output_id, list(DISTINCT category ORDER BY category) AS cats FROM findings"
        " WHERE flagged GROUP BY output_id) f WHERE f.output_id = outputs.output_id"
    )


@migration
def m005_samples(db: duckdb.DuckDBPyConnection) -> None:
    """The further answers of an item when a suite asks for several samples (``generation:
    samples: K``): sample 0 is the item's output (what single-output checks, metrics, compare
    and the failure browser read, one row per item as before); samples 1..K-1 are stored here,
    each content-addressed by its own cache key, beside the output they belong to."""
    db.execute(
        """
        CREATE TABLE samples (
            output_id VARCHAR NOT NULL,        -- the item's output (sample 0)
            sample INTEGER NOT NULL,           -- 1..K-1
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            text VARCHAR,
            tokens_in INTEGER,
            tokens_out INTEGER,
            finish_reason VARCHAR,
            latency_s DOUBLE,
            cache_key VARCHAR,                 -- hash(model, rendered prompt, config, sample index)
            cached BOOLEAN DEFAULT false,
            created_at TIMESTAMP DEFAULT current_timestamp,
            PRIMARY KEY (output_id, sample)
        )
        """
    )
    db.execute("CREATE INDEX samples_run ON samples(run_id)")
    db.execute("CREATE INDEX samples_cache ON samples(cache_key)")


@migration
def m006_verdicts(db: duckdb.DuckDBPyConnection) -> None:
    """A reviewer's verdicts on the checks: a flagged finding marked right or wrong, or an
    output marked as missing a category no check flagged. Appended, never updated: the latest
    verdict on a (output, check, category) is the one that counts, the older ones are history.
    Each check's measured precision on this project's data is read from here."""
    db.execute(
        """
        CREATE TABLE verdicts (
            verdict_id VARCHAR PRIMARY KEY,
            output_id VARCHAR NOT NULL,
            run_id VARCHAR,
            check_name VARCHAR,                -- NULL for a missing category
            category VARCHAR NOT NULL,
            verdict VARCHAR NOT NULL,          -- 'right' | 'wrong' | 'missing'
            reviewer VARCHAR,
            note VARCHAR,
            created_at TIMESTAMP DEFAULT current_timestamp
        )
        """
    )
    db.execute("CREATE INDEX verdicts_output ON verdicts(output_id)")


def apply_migrations(db: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations "
        "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT current_timestamp)"
    )
    done = {r[0] for r in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        db.execute("BEGIN TRANSACTION")
        try:
            fn(db)
            db.execute("INSERT INTO _migrations (name) VALUES (?)", [fn.__name__])
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
        applied.append(fn.__name__)
    return applied


def pending(db: duckdb.DuckDBPyConnection) -> list[str]:
    try:
        done = {r[0] for r in db.execute("SELECT name FROM _migrations").fetchall()}
    except duckdb.CatalogException:
        done = set()
    return [fn.__name__ for fn in MIGRATIONS if fn.__name__ not in done]
