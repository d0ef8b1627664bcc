using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Router.Pool;

/// <summary>Rpm and Tpm: a deployment gets no more than it can take, whichever Router replica sends.</summary>
[Collection(PlatformCollection.Name)]
public sealed class CapacityTests(PlatformFixture platform) : IAsyncLifetime
{
    public Task InitializeAsync() => platform.ResetSimulatorsAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Requests_per_minute_hold_across_two_router_replicas()
    {
        var settings = Single("capped-rpm", ("Rpm", "5"));
        settings["Router:Retry:MaxRetryAfterSeconds"] = "0"; // answer 429 rather than wait 12 s for room
        await using var first = platform.StartRouter(settings);
        await using var second = platform.StartRouter(settings);
        using var firstClient = first.CreateHttpClient();
        using var secondClient = second.CreateHttpClient();

        var statuses = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add(await firstClient.PostAsync("/v1/chat/completions", Json.Chat(model: "capped-rpm")));
            statuses.Add(await secondClient.PostAsync("/v1/chat/completions", Json.Chat(model: "capped-rpm")));
        }

        Assert.Equal(5, statuses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var refused = statuses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(3, refused.Count);
        Assert.All(refused, r => Assert.InRange(r.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 12));
        Assert.Equal(5, await PlatformFixture.SimulatorRequestsAsync(platform.SimA));
        statuses.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task Tokens_per_minute_count_the_estimate_and_refuse_what_would_not_fit()
    {
        var settings = Single("capped-tpm", ("Tpm", "100"));
        settings["Router:Retry:MaxRetryAfterSeconds"] = "0";
        await using var router = platform.StartRouter(settings);
        using var client = router.CreateHttpClient();

        using var first = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "capped-tpm", extra: ",\"max_tokens\":85"));
        using var second = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "capped-tpm", extra: ",\"max_tokens\":85"));
        using var tooLarge = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "capped-tpm", extra: ",\"max_tokens\":500"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, tooLarge.StatusCode); // more than a whole minute's tokens: never fits
        Assert.Equal(1, await PlatformFixture.SimulatorRequestsAsync(platform.SimA));
    }

    [Fact]
    public async Task Tokens_per_minute_count_every_answer_a_request_may_write()
    {
        var settings = Single("capped-tpm-n", ("Tpm", "100"));
        settings["Router:Retry:MaxRetryAfterSeconds"] = "0";
        await using var router = platform.StartRouter(settings);
        using var client = router.CreateHttpClient();

        // Each answer alone would fit twice in the minute (about 40 tokens with the prompt); two answers of 40 take most of it.
        using var first = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "capped-tpm-n", extra: ",\"max_tokens\":40,\"n\":2"));
        using var second = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "capped-tpm-n", extra: ",\"max_tokens\":40,\"n\":2"));
        using var tooMany = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "capped-tpm-n", extra: ",\"max_tokens\":40,\"n\":4"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode); // 4 x 40 is more than a whole minute's tokens
        Assert.Contains("with all 4 answers", (await Json.ReadErrorAsync(tooMany)).GetProperty("message").GetString());
    }

    [Fact]
    public async Task Usage_based_sends_to_the_deployment_with_the_most_headroom()
    {
        var settings = new Dictionary<string, string?>(platform.SimulatorGroup("by-headroom"))
        {
            ["Router:ModelGroups:by-headroom:Strategy"] = "usage-based",
            ["Router:ModelGroups:by-headroom:Deployments:0:Rpm"] = "6",
            ["Router:ModelGroups:by-headroom:Deployments:1:Rpm"] = "60",
        };
        await using var router = platform.StartRouter(settings);
        using var client = router.CreateHttpClient();

        for (var i = 0; i < 30; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "by-headroom"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(0, await PlatformFixture.SimulatorRequestsAsync(platform.SimA)); // 6 a minute left, against sim-b's 60 down to 31
        Assert.Equal(30, await PlatformFixture.SimulatorRequestsAsync(platform.SimB));
        using var admin = await client.GetFromJsonAsync<JsonDocument>("/admin/v1/deployments");
        var simB = admin!.RootElement.GetProperty("data").EnumerateArray()
            .Single(d => d.GetProperty("modelGroup").GetString() == "by-headroom" && d.GetProperty("name").GetString() == "sim-b");
        // Use drains as time passes (at 60 rpm, one request a second), so a loop of a second or two
        // reads between 28 and 30 (CI saw 28.9).
        Assert.InRange(simB.GetProperty("capacity").GetProperty("rpmInUse").GetDouble(), 28, 30);
    }

    private Dictionary<string, string?> Single(string group, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Router:ModelGroups:{group}:Deployments:0:Name"] = "sim-a",
            [$"Router:ModelGroups:{group}:Deployments:0:BaseUrl"] = $"{platform.SimA.BaseAddress}v1",
            [$"Router:ModelGroups:{group}:Deployments:0:Model"] = "sim-model",
        };
        foreach (var (key, value) in extra)
        {
            settings[$"Router:ModelGroups:{group}:Deployments:0:{key}"] = value;
        }
        return settings;
    }

}
