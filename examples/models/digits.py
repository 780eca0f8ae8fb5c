"""The example model: a scikit-learn classifier of handwritten digits (8x8 images, 64 features 0-16).

Trained at start on half of the digits data set that scikit-learn ships (nothing is downloaded), so the
other half is unseen and an accuracy measured on the whole set means something. Shared by the worker
process (worker.py), the HTTP endpoint (server.py) and the data set printer (dataset.py).
"""
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = 64


def data_set():
    """The whole data set: (features as lists of 64 integers 0-16, true labels as ints)."""
    digits = load_digits()
    return [[int(value) for value in row] for row in digits.data], [int(label) for label in digits.target]


def train():
    """A fitted classifier, the same on every run (fixed split and solver)."""
    digits = load_digits()
    train_x, _, train_y, _ = train_test_split(
        digits.data, digits.target, test_size=0.5, random_state=0, stratify=digits.target)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(train_x, train_y)
    return model


def features_of(data):
    """The feature vector of one input, {"features": [64 numbers], ...}; ValueError says what is wrong."""
    if not isinstance(data, dict) or "features" not in data:
        raise ValueError('input must be an object with "features": a list of 64 numbers')
    features = data["features"]
    if not isinstance(features, list) or len(features) != FEATURES:
        size = len(features) if isinstance(features, list) else type(features).__name__
        raise ValueError(f'"features" must be a list of {FEATURES} numbers, got {size}')
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in features):
        raise ValueError('"features" must hold numbers only')
    return [float(value) for value in features]


def predict_many(model, inputs):
    """One answer per input, in order: {"label", "probabilities"} or {"error"} for a bad input.

    The good inputs are scored together, as one matrix: this is what makes micro-batches cheap.
    """
    answers = [None] * len(inputs)
    rows, positions = [], []
    for position, data in enumerate(inputs):
        try:
            rows.append(features_of(data))
            positions.append(position)
        except ValueError as error:
            answers[position] = {"error": str(error)}
    if rows:
        for position, probabilities in zip(positions, model.predict_proba(rows)):
            best = max(range(len(probabilities)), key=lambda label: probabilities[label])
            answers[position] = {
                "label": int(model.classes_[best]),
                "probabilities": [round(float(p), 4) for p in probabilities],
            }
    return answers
