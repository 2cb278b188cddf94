"""The ESRP leaderboard: score sources, aggregation with honest statistics, and outputs."""
