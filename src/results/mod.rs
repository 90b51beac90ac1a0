//! Results of a run: the folder `results/<scenario>/<run-id>/`, its CSV files and its plots.
