using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Router.Telemetry;

/// <summary>What an operator sees of each call: GenAI metrics, retries, breaker transitions, a span per attempt.</summary>
[Collection(PlatformCollection.Name)]
public sealed class RouterTelemetryTests(PlatformFixture platform)
{
    private const string Group = "telemetry";

    [Fact]
    public async Task A_stream_the_client_abandons_is_counted_with_estimated_tokens()
    {
        await using var slow = PlatformFixture.StartSimulator(new Dictionary<string, string?> { ["Simulator:TokenIntervalMs"] = "100", ["Simulator:OutputTokens"] = "50" });
        await using var router = platform.StartRouter(new RouterSettings
        {
            // Not the fixture's one-second timeouts: on a busy machine a first token that late would end the
            // stream with a timeout before the client has read its four events and left.
            { "Router:Timeouts:FirstTokenSeconds", "30" },
            { "Router:Timeouts:IdleSeconds", "30" },
            { "Router:Timeouts:ResponseSeconds", "60" },
            { "abandoned", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("slow", slow.BaseAddress, "gpt-4o")] } },
        });
        var meterFactory = router.Services.GetRequiredService<IMeterFactory>();
        var tokens = new ConcurrentQueue<(long Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meterFactory && instrument.Name == "gen_ai.client.token.usage")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((_, value, tags, _) => tokens.Enqueue((value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        meters.Start();
        using var client = router.CreateHttpClient();

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json.Chat(model: "abandoned", stream: true) })
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            for (var events = 0; events < 4;)
            {
                var line = await reader.ReadLineAsync() ?? throw new Xunit.Sdk.XunitException($"The stream ended after {events} events, before the client left.");
                events += line.StartsWith("data: ", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        await Eventually.TrueAsync(() => tokens.Count >= 2, "the cut stream's two token measurements");
        var recorded = tokens.ToList();
        Assert.Equal(2, recorded.Count);
        Assert.All(recorded, t => Assert.Equal(true, t.Tags["agentplatform.usage.estimated"]));
        var output = recorded.Single(t => (string?)t.Tags["gen_ai.token.type"] == "output").Value;
        // The words relayed until the Router saw the client leave (Kestrel notices a closed connection
        // within a moment), not the 50 of the whole answer.
        Assert.InRange(output, 3, 45);
        Assert.Equal(3 + 3 + 1 + 2, recorded.Single(t => (string?)t.Tags["gen_ai.token.type"] == "input").Value); // "Hello there" by o200k_base
    }

    [Fact]
    public async Task Tokens_retries_and_a_span_per_attempt_are_recorded_for_the_model_group_and_deployment()
    {
        await using var router = platform.StartRouter(new Dictionary<string, string?>(platform.SimulatorGroup(Group))
        {
            [$"Router:ModelGroups:{Group}:Deployments:0:Priority"] = "1", // sim-b first: it is the one that fails
        });
        var meterFactory = router.Services.GetRequiredService<IMeterFactory>();
        var measurements = new ConcurrentQueue<(string Instrument, long Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meterFactory)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            measurements.Enqueue((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        meters.Start();
        var spans = new ConcurrentQueue<Activity>();
        using var activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "AgentPlatform.Router",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("agentplatform.model_group") as string == Group)
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(activities);
        using var client = router.CreateHttpClient();
        using var simB = platform.SimB.CreateHttpClient();

        using (var json = await client.PostAsync("/v1/chat/completions", Json.Chat(model: Group)))
        {
            Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        }
        using (var stream = await client.PostAsync("/v1/chat/completions", Json.Chat(model: Group, stream: true, extra: ",\"stream_options\":{\"include_usage\":true}")))
        {
            var text = await stream.Content.ReadAsStringAsync();
            Assert.Contains("[DONE]", text);
            Assert.Contains("\"prompt_tokens\"", text);
        }
        using (var stream = await client.PostAsync("/v1/chat/completions", Json.Chat(model: Group, stream: true)))
        {
            // The Router asks the provider for usage to count it, but the client did not ask: it never sees it.
            var text = await stream.Content.ReadAsStringAsync();
            Assert.EndsWith("data: [DONE]\n\n", text);
            Assert.DoesNotContain("\"prompt_tokens\"", text);
        }
        await simB.PostAsJsonAsync("/sim/faults", new { kind = "500", rate = 1.0 });
        try
        {
            using var retried = await client.PostAsync("/v1/chat/completions", Json.Chat(model: Group));
            Assert.Equal("sim-a", retried.Headers.GetValues("x-agentplatform-deployment").Single());
            Assert.Equal("2", retried.Headers.GetValues("x-agentplatform-attempts").Single());
            Assert.Equal("input=0;cached_input=0;output=0", retried.Headers.GetValues("x-agentplatform-price-per-million").Single());
        }
        finally
        {
            await simB.DeleteAsync("/sim/faults");
        }
        meters.RecordObservableInstruments();

        var tokens = measurements.Where(m => m.Instrument == "gen_ai.client.token.usage").ToList();
        Assert.Equal(4, tokens.Count(t => (string?)t.Tags["gen_ai.token.type"] == "output"));
        Assert.All(tokens, t => Assert.Equal(false, t.Tags["agentplatform.usage.estimated"]));
        Assert.All(tokens.Where(t => (string?)t.Tags["gen_ai.token.type"] == "output"), t => Assert.Equal(8, t.Value));
        Assert.All(tokens.Where(t => (string?)t.Tags["gen_ai.token.type"] == "input"), t => Assert.True(t.Value > 0));
        Assert.All(tokens, t => Assert.Equal(Group, t.Tags["gen_ai.request.model"]));
        var retry = Assert.Single(measurements, m => m.Instrument == "agentplatform.router.retries");
        Assert.Equal("sim-b", retry.Tags["agentplatform.deployment"]);

        var attempts = spans.ToList();
        Assert.Equal(5, attempts.Count); // JSON, two streams, then the failed attempt and its retry
        var (failed, succeeded) = (attempts[3], attempts[4]);
        Assert.Equal("sim-b", failed.GetTagItem("agentplatform.deployment"));
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.Equal("sim-a", succeeded.GetTagItem("agentplatform.deployment"));
        Assert.Equal(2, succeeded.GetTagItem("agentplatform.attempt"));
        Assert.Equal(failed.TraceId, succeeded.TraceId);
        Assert.Equal("chat", succeeded.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("sim-model", succeeded.GetTagItem("gen_ai.request.model"));
    }
}
