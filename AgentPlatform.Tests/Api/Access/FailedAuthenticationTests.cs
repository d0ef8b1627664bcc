using System.Net;
using AgentPlatform.Api.Access;
using AgentPlatform.Api;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Api.Access;

/// <summary>
/// Requests with a credential the Api refuses: what they may cost it, Redis and the other clients. A
/// Redis per test: creating keys makes the master key admin-only, and the failure counts are per address.
/// </summary>
[Collection(PlatformCollection.Name)]
public sealed class FailedAuthenticationTests(PlatformFixture platform) : IAsyncLifetime
{
    private TestRedis _redis = null!;

    public async Task InitializeAsync() => _redis = await TestRedis.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task A_refused_key_leaves_no_usage_record_and_is_counted_in_a_metric_instead()
    {
        await using var api = StartApi();
        var (_, key) = await ApiCalls.CreateKeyAsync(api, await ApiCalls.CreateTenantAsync(api, new { name = "real" }), new { name = "real" });
        var refusedIds = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            using var stranger = ApiCalls.Client(api, $"ap-made-up-{Guid.NewGuid():N}");
            using var refused = await stranger.PostAsync("/v1/chat/completions", Json.Chat());
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            refusedIds.Add(refused.Headers.GetValues("x-request-id").Single());
        }
        using var client = ApiCalls.Client(api, key);
        using var answered = await client.PostAsync("/v1/chat/completions", Json.Chat());
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);

        // Records reach the ledger in order: once the answered request's is there, a refused one's would be too.
        using var admin = ApiCalls.Admin(api);
        Assert.Single(await ApiCalls.LedgerAsync(admin, $"requestId={answered.Headers.GetValues("x-request-id").Single()}", expected: 1));
        foreach (var id in refusedIds)
        {
            Assert.Empty(await ApiCalls.LedgerAsync(admin, $"requestId={id}", expected: 0));
        }
        // At least: in this process every Api host's meters reach every host's exporter.
        var metrics = await PrometheusScrape.ReadAsync(api.CreateHttpClient());
        Assert.True(metrics.Sum("agentplatform_auth_failures_total", "code=\"invalid_api_key\"") >= 5);
    }

    [Fact]
    public async Task An_address_failing_too_often_is_turned_away_with_retry_after_but_keeps_the_keys_it_has_used()
    {
        await using var api = StartApi(new()
        {
            ["AgentPlatform:MaxFailedAuthentications"] = "3",
            ["AgentPlatform:FailedAuthenticationWindowSeconds"] = "60",
        });
        var tenant = await ApiCalls.CreateTenantAsync(api, new { name = "behind-the-same-nat" });
        var (_, used) = await ApiCalls.CreateKeyAsync(api, tenant, new { name = "used" });
        var (_, unused) = await ApiCalls.CreateKeyAsync(api, tenant, new { name = "unused" });
        using var known = ApiCalls.Client(api, used);
        using (var first = await known.PostAsync("/v1/chat/completions", Json.Chat()))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        for (var i = 0; i < 3; i++)
        {
            using var guesser = ApiCalls.Client(api, $"ap-guess-{i}");
            using var refused = await guesser.PostAsync("/v1/chat/completions", Json.Chat());
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        using var lastGuesser = ApiCalls.Client(api, "ap-guess-3");
        using var turnedAway = await lastGuesser.PostAsync("/v1/chat/completions", Json.Chat());

        Assert.Equal(HttpStatusCode.TooManyRequests, turnedAway.StatusCode);
        Assert.InRange(turnedAway.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        Assert.Equal(FailedAuthentications.TooManyFailuresCode, (await Json.ReadErrorAsync(turnedAway)).GetProperty("code").GetString());
        // A key this replica has served goes on being served; one it has not seen is not looked up.
        using (var again = await known.PostAsync("/v1/chat/completions", Json.Chat()))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }
        using var other = ApiCalls.Client(api, unused);
        using (var unseen = await other.PostAsync("/v1/chat/completions", Json.Chat()))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, unseen.StatusCode);
        }
        // The master key is refused too, even when right: a guess let through when right can be made.
        using var admin = ApiCalls.Admin(api);
        using var adminCall = await admin.GetAsync("/admin/v1/tenants");
        Assert.Equal(HttpStatusCode.TooManyRequests, adminCall.StatusCode);
    }

    [Fact]
    public async Task Made_up_keys_are_remembered_as_unknown_only_up_to_a_bound()
    {
        await using var api = StartApi();
        var authenticator = api.Services.GetRequiredService<ClientAuthenticator>();

        for (var i = 0; i < ClientAuthenticator.MaxUnknownKeys + 500; i++)
        {
            var context = new DefaultHttpContext { RequestServices = api.Services };
            context.Request.Headers.Authorization = $"Bearer ap-flood-{i}";
            var (client, refusal) = await authenticator.AuthenticateAsync(context);
            Assert.Null(client);
            Assert.Equal(StatusCodes.Status401Unauthorized, refusal?.StatusCode);
        }

        Assert.InRange(authenticator.UnknownKeyCount, 1, ClientAuthenticator.MaxUnknownKeys);
    }

    private KestrelApp<ApiOptions> StartApi(Dictionary<string, string?>? settings = null) =>
        new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(_redis, platform.Router.BaseAddress, settings)).Start();
}
