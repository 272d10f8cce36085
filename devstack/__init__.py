"""The embedded dev stack (`make run`) and the demo data set (`make demo`); never imported by the product."""
