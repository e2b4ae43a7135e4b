"""Forecasting a service's request rate from its own history, pure numpy.

``forecast_series`` gives the forecast made at every point of a series (the simulator's
call, once per run); ``forecast_latest`` the one made now (the live loop's call). See
docs/predictive.md for the model.
"""

from scalepilot.control.forecast.model import (
    ForecastParams,
    ForecastSeries,
    Latest,
    Seasonality,
    forecast_latest,
    forecast_series,
)

__all__ = ["ForecastParams", "ForecastSeries", "Latest", "Seasonality", "forecast_latest", "forecast_series"]
