"""Progress lines of an asset's run."""

import logging

import dagster as dg

log = logging.getLogger("datasmith")


def progress_logger(context: dg.AssetExecutionContext):
    """Progress lines to the Dagster run log (the UI) and to the terminal (`datasmith`)."""

    def progress(message: str) -> None:
        context.log.info(message)
        log.info(message)

    return progress
