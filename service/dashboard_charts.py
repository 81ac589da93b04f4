"""Bar charts as plain numbers for the dashboard template to draw as inline SVG: no
charting library, nothing fetched from elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from shared.queue.job_history import MinuteOutcomes

WIDTH, HEIGHT, GAP = 600, 120, 1


class Bar(BaseModel):
    x: float
    y: float
    width: float
    height: float
    label: str


class Chart(BaseModel):
    title: str
    bars: list[Bar]
    peak: int
    total: int
    width: int = WIDTH
    height: int = HEIGHT


def bar_chart(title: str, minutes: list[MinuteOutcomes], field: str) -> Chart:
    values = [getattr(m, field) for m in minutes]
    peak = max(values, default=0)
    slot = WIDTH / max(1, len(values))
    bars = []
    for i, (minute, value) in enumerate(zip(minutes, values, strict=True)):
        height = 0 if peak == 0 else HEIGHT * value / peak
        at = datetime.fromtimestamp(minute.minute_start, UTC).strftime("%H:%M")
        bars.append(
            Bar(
                x=round(i * slot, 2),
                y=round(HEIGHT - height, 2),
                width=round(slot - GAP, 2),
                height=round(height, 2),
                label=f"{at} UTC: {value}",
            )
        )
    return Chart(title=title, bars=bars, peak=peak, total=sum(values))
