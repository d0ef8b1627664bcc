using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Router.Routing;

/// <summary>
/// The Router measuring real answers and preferring the faster deployment, end to end. The Router and
/// the simulators share a <see cref="SimulatedTime"/>: a busy test machine's stalls would otherwise be
/// measured as latency (peak-EWMA takes a slow sample at once) and send requests to the slow one.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class LowestLatencyTests(PlatformFixture platform)
{
    [Fact]
    public async Task Lowest_latency_sends_at_least_nine_in_ten_requests_to_the_simulator_five_times_faster()
    {
        var time = new SimulatedTime();
        await using var fast = Simulator(timeToFirstTokenMs: 30, time);
        await using var slow = Simulator(timeToFirstTokenMs: 150, time);
        await using var router = platform.StartRouter(new RouterSettings
        {
            // The idle one is measured again once its faded sample is below the other's: after ~1.6 s of
            // requests to the fast one (1 s decay; 150 ms fades below 30 ms), so a few of the 200 go slow.
            { "Router:LatencyDecaySeconds", "1" },
            {
                "latency", new ModelGroupOptions
                {
                    Strategy = RoutingStrategyNames.LowestLatency,
                    Deployments = [RouterSettings.Deployment("slow", slow.BaseAddress), RouterSettings.Deployment("fast", fast.BaseAddress)],
                }
            },
        }, time: time.Measuring);
        using var client = router.CreateHttpClient();

        // One at a time: the strategy's cost is latency × (in flight + 1), so requests in parallel would
        // also test its queue-awareness. This test is about the latency preference alone.
        for (var i = 0; i < 200; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "latency", extra: $",\"seed\":{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var fastClient = fast.CreateHttpClient();
        var toFast = (await fastClient.GetFromJsonAsync<JsonElement>("/sim/stats")).GetProperty("requests").GetInt64();
        Assert.True(toFast >= 180, $"{toFast} of 200 went to the fast simulator");
    }

    private static KestrelApp<SimulatorOptions> Simulator(int timeToFirstTokenMs, SimulatedTime time) =>
        PlatformFixture.StartSimulator(new Dictionary<string, string?> { ["Simulator:TimeToFirstTokenMs"] = timeToFirstTokenMs.ToString() }, time.Waiting);
}
