"""The traffic-light example the reward tests share (a uniquely named module: every folder has a conftest)."""

from moss_plugins.prompt import format_response

OPTIONS = ["The light stays green", "The light turns yellow", "The light turns red", "The light goes dark"]
TRACE = [
    {"t": [0.0, 2.0], "text": "The traffic light is green while cars drive through the crossing."},
    {"t": [2.0, 3.5], "text": "The light switches from green to yellow and the cars slow down."},
    {"t": [3.5, 6.0], "text": "The light turns red and the cars stop before the line."},
    {"t": [6.0, 8.0], "text": "After red the light turns green again, so the cycle is green, yellow, red."},
    {"t": [8.0, 9.0], "text": "The video is cut while the light is green, so yellow comes next."},
]
QUESTION = "The video stops at 9 s. What will the traffic light do next?"


def render(steps, answer="B"):
    return format_response(steps, answer)
