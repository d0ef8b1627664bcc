using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Router.Routing;

[Collection(TimingCollection.Name)]
public sealed class LowestLatencyTests(PlatformFixture platform)
{
    [Fact]
    public async Task Lowest_latency_sends_at_least_nine_in_ten_requests_to_the_simulator_five_times_faster()
    {
        // 30 and 150 ms: far enough above the few-ms stalls of a busy test machine that the difference shows.
        await using var fast = Simulator(timeToFirstTokenMs: 30);
        await using var slow = Simulator(timeToFirstTokenMs: 150);
        await using var router = platform.StartRouter(new RouterSettings
        {
            // A busy test machine stalls now and then; a short memory lets a stalled sample fade within the test.
            { "Router:LatencyDecaySeconds", "1" },
            {
                "latency", new ModelGroupOptions
                {
                    Strategy = RoutingStrategyNames.LowestLatency,
                    Deployments = [RouterSettings.Deployment("slow", slow.BaseAddress), RouterSettings.Deployment("fast", fast.BaseAddress)],
                }
            },
            { "warm-up", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("fast", fast.BaseAddress)] } },
        });
        using var client = router.CreateHttpClient();
        // A fresh Router's first calls run cold code and take longer than the simulators' 30 and 150 ms;
        // measured on those, the fast one would look slow until the sample decays.
        for (var i = 0; i < 20; i++)
        {
            using var warmUp = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "warm-up"));
        }
        using (var reset = fast.CreateHttpClient())
        {
            await reset.PostAsync("/sim/stats/reset", null);
        }

        // One at a time: the strategy's cost is latency × (in flight + 1), so requests in parallel would
        // also test its queue-awareness — which, when CI load stretches the fast one's samples, rightly
        // sends some to the slow one. This test is about the latency preference alone.
        for (var i = 0; i < 200; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "latency", extra: $",\"seed\":{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var fastClient = fast.CreateHttpClient();
        var toFast = (await fastClient.GetFromJsonAsync<JsonElement>("/sim/stats")).GetProperty("requests").GetInt64();
        Assert.True(toFast >= 180, $"{toFast} of 200 went to the fast simulator");
    }

    private static KestrelApp<SimulatorOptions> Simulator(int timeToFirstTokenMs) =>
        PlatformFixture.StartSimulator(new Dictionary<string, string?> { ["Simulator:TimeToFirstTokenMs"] = timeToFirstTokenMs.ToString() });
}
