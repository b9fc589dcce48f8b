"""Core evaluation: ranking and market metrics, the evaluation windows (splits), the popularity
baseline and the oracle's rankings, used the same way by every stage."""
