"""The verdict: can the private model replace ChatGPT, per topic, with what confidence.

`stats` holds the intervals and the decision, `ppi` the estimate that combines judge and human
verdicts, `figures` reads them out of the ledger (with cost and latency), `report` writes the
stand-alone page.
"""
