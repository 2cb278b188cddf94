"""LLM-as-judge: the ESRP rubric, pointwise and pairwise judging, audits and calibration.

The rubric is data (``data/rubrics/``) so that every score can be traced to the exact
text the judge was shown; see :mod:`chatanime.judge.rubric`.
"""
