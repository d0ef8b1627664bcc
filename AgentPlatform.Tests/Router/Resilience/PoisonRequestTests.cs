using System.Net;
using System.Text;
using AgentPlatform.Contracts.Http;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Router.Resilience;

/// <summary>
/// Requests every deployment fails (both simulators answer 500 to a body holding "poison", as a
/// provider may crash on some content): they are their senders' failures, not the deployments'. A
/// Router of its own per test, so breakers start closed; alone, after the parallel collections, like
/// the other tests of the simulators' faults.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class PoisonRequestTests(PlatformFixture platform) : IAsyncLifetime
{
    private const string Poison = "poison";

    /// <summary>Its own: creating keys makes the master key admin-only for every Api on the Redis.</summary>
    private TestRedis _redis = null!;

    public async Task InitializeAsync()
    {
        _redis = await TestRedis.StartAsync();
        await platform.ResetSimulatorsAsync();
        foreach (var simulator in new[] { platform.SimA, platform.SimB })
        {
            await PlatformFixture.InjectFaultAsync(simulator, new { kind = "500", rate = 1.0, bodyContains = Poison });
        }
    }

    public async Task DisposeAsync()
    {
        await platform.ResetSimulatorsAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task One_key_sending_poison_gets_its_own_502_and_what_other_keys_get_does_not_change()
    {
        const string Group = "poisoned";
        await using var router = platform.StartRouter(new Dictionary<string, string?>(platform.SimulatorGroup(Group))
        {
            ["Router:CircuitBreaker:ConsecutiveFailures"] = "3",
            ["Router:CircuitBreaker:BreakDurationSeconds"] = "60",
        });
        await using var api = new KestrelApp<AgentPlatform.Api.ApiOptions>(PlatformFixture.ApiSettings(_redis, router.BaseAddress)).Start();
        var (_, hostileKey) = await ApiCalls.CreateKeyAsync(api, await ApiCalls.CreateTenantAsync(api, new { name = "hostile" }), new { name = "poisoner" });
        var (_, otherKey) = await ApiCalls.CreateKeyAsync(api, await ApiCalls.CreateTenantAsync(api, new { name = "bystander" }), new { name = "bystander" });
        using var hostile = ApiCalls.Client(api, hostileKey);
        using var other = ApiCalls.Client(api, otherKey);

        for (var i = 0; i < 20; i++)
        {
            using var poisoned = await hostile.PostAsync("/v1/chat/completions", PoisonedChat(Group, i));

            Assert.Equal(HttpStatusCode.BadGateway, poisoned.StatusCode);
            var error = await Json.ReadErrorAsync(poisoned);
            Assert.Equal("upstream_request_failed", error.GetProperty("code").GetString());
        }
        Assert.All(Deployments(router, Group), d => Assert.Equal(CircuitState.Closed, d.Breaker.State));
        Assert.True(await PlatformFixture.SimulatorRequestsAsync(platform.SimA) >= 20, "the poison did not reach sim-a");

        for (var i = 0; i < 20; i++)
        {
            using var answer = await other.PostAsync("/v1/chat/completions", Json.Chat(model: Group, extra: $",\"seed\":{i}"));

            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }
    }

    [Fact]
    public async Task Requests_of_two_clients_failing_alike_everywhere_open_the_breakers_as_an_outage_should()
    {
        const string Group = "poisoned-by-two";
        await using var router = platform.StartRouter(new Dictionary<string, string?>(platform.SimulatorGroup(Group))
        {
            ["Router:CircuitBreaker:ConsecutiveFailures"] = "3",
            ["Router:CircuitBreaker:BreakDurationSeconds"] = "60",
        });
        using var client = router.CreateHttpClient();

        HttpStatusCode last = default;
        for (var i = 0; i < 40 && last != HttpStatusCode.ServiceUnavailable; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = PoisonedChat(Group, i) };
            request.Headers.Add(RouterRequestHeaders.Client, i % 2 == 0 ? "tenant-a" : "tenant-b");
            using var response = await client.SendAsync(request);
            last = response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, last);
        Assert.All(Deployments(router, Group), d => Assert.Equal(CircuitState.Open, d.Breaker.State));
    }

    [Fact]
    public async Task A_500_from_one_deployment_that_another_answers_counts_against_it_whoever_sent_it()
    {
        const string Group = "one-sick";
        await using var router = platform.StartRouter(new Dictionary<string, string?>(platform.SimulatorGroup(Group))
        {
            [$"Router:ModelGroups:{Group}:Deployments:0:Priority"] = "1", // sim-b first
            ["Router:CircuitBreaker:ConsecutiveFailures"] = "3",
            ["Router:CircuitBreaker:BreakDurationSeconds"] = "60",
        });
        await PlatformFixture.ClearFaultsAsync(platform.SimA);
        using var client = router.CreateHttpClient();

        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = PoisonedChat(Group, i) };
            request.Headers.Add(RouterRequestHeaders.Client, "tenant-a");
            using var response = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("sim-a", response.Headers.GetValues(ProxyResponse.DeploymentHeader).Single());
        }

        // The Router tells the breakers once the request's attempts are over, which can be just after its
        // client has the answer: wait for the third failure to be counted.
        var simB = Deployments(router, Group).Single(d => d.Name == "sim-b");
        await Eventually.TrueAsync(() => simB.Breaker.State == CircuitState.Open, "sim-b's breaker to open after its third failure");
    }

    [Fact]
    public async Task A_body_that_is_not_utf8_text_never_reaches_a_deployment()
    {
        const string Group = "not-text";
        await using var router = platform.StartRouter(platform.SimulatorGroup(Group));
        await using var api = new KestrelApp<AgentPlatform.Api.ApiOptions>(PlatformFixture.ApiSettings(_redis, router.BaseAddress)).Start();
        var (_, key) = await ApiCalls.CreateKeyAsync(api, await ApiCalls.CreateTenantAsync(api, new { name = "sender" }), new { name = "sender" });
        using var edge = ApiCalls.Client(api, key);
        using var direct = router.CreateHttpClient();
        byte[] body = [.. Encoding.UTF8.GetBytes($$"""{"model":"{{Group}}","messages":[{"role":"user","content":"bad """), 0xff, 0xfe, 0xfd, .. "\"}]}"u8];

        foreach (var target in new[] { edge, direct })
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new("application/json");
            using var response = await target.PostAsync("/v1/chat/completions", content);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("UTF-8", (await Json.ReadErrorAsync(response)).GetProperty("message").GetString());
        }
        Assert.Equal(0, await PlatformFixture.SimulatorRequestsAsync(platform.SimA) + await PlatformFixture.SimulatorRequestsAsync(platform.SimB));
    }

    private static StringContent PoisonedChat(string group, int i) =>
        Json.Body($$"""{"model":"{{group}}","seed":{{i}},"messages":[{"role":"user","content":"this {{Poison}} crashes the model"}]}""");

    private static IReadOnlyList<Deployment> Deployments(KestrelApp<AgentPlatform.Router.Configuration.RouterOptions> router, string group) =>
        router.Services.GetRequiredService<ModelPool>().Groups.Single(g => g.Name == group).Deployments;
}
