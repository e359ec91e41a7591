"""HTTP routers of the maintenance service (aggregated by ``app.build``)."""
