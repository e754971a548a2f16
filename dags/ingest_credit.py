"""Airflow DAG `ingest_credit`: the daily load of the credit source into the raw layer.

The logic lives in include/shumei (dag_support.build_ingest_dag, ingest.jobs); this file only wires it.
"""

from shumei.dag_support import build_ingest_dag

dag = build_ingest_dag("credit")
