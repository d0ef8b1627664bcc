using System.Net;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Doors;

/// <summary>
/// The controls no door may skip, each at every door (docs/doors.md has the whole table, with the suites that
/// cover the others: rpm, concurrency, budgets, cache, usage records): the key, a model the key may not use,
/// a tokens per minute limit, and a deployment failing over before its first byte.
/// </summary>
public sealed class DoorControlsTests(TenancyFixture fixture) : IClassFixture<TenancyFixture>
{
    public static readonly TheoryData<string> Doors = ["/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/responses"];

    private async Task<(string KeyId, HttpClient Client)> NewKeyAsync(object key)
    {
        var tenantId = await fixture.CreateTenantAsync(new { name = $"doors-{Guid.NewGuid():N}" });
        var (keyId, plaintext) = await fixture.CreateKeyAsync(tenantId, key);
        return (keyId, TenancyFixture.Client(fixture.First, plaintext));
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_missing_or_wrong_key_is_refused_with_401(string door)
    {
        using var anonymous = fixture.First.CreateClient();
        using var wrong = TenancyFixture.Client(fixture.First, "sk-not-a-key-of-this-platform");

        using var missing = await anonymous.PostAsync(door, Json.AtDoor(door));
        using var invalid = await wrong.PostAsync(door, Json.AtDoor(door));

        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("missing_api_key", (await Json.ReadErrorAsync(missing)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, invalid.StatusCode);
        Assert.Equal("invalid_api_key", (await Json.ReadErrorAsync(invalid)).GetProperty("code").GetString());
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_model_the_key_may_not_use_is_refused_before_it_costs_anything(string door)
    {
        var (_, client) = await NewKeyAsync(new { name = "narrow", models = new[] { "other" } });

        using var refused = await client.PostAsync(door, Json.AtDoor(door));

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("model_not_allowed", (await Json.ReadErrorAsync(refused)).GetProperty("code").GetString());
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_tokens_per_minute_limit_admits_requests_until_their_tokens_would_pass_it(string door)
    {
        const int Tpm = 60;
        var (keyId, client) = await NewKeyAsync(new { name = "sixty tokens", tpm = Tpm });

        HttpResponseMessage? refused = null;
        var answered = 0;
        for (var i = 0; i < 100 && refused is null; i++)
        {
            var response = await client.PostAsync(door, Json.AtDoor(door, maxTokens: door == "/v1/embeddings" ? null : 16));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                answered++;
                response.Dispose();
            }
            else
            {
                refused = response;
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.StartsWith($"Rate limit reached for key 'sixty tokens': {Tpm} tokens per minute", (await Json.ReadErrorAsync(refused)).GetProperty("message").GetString());
        }
        Assert.InRange(answered, 1, Tpm);
        using var admin = fixture.Admin();
        var records = await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", answered + 1);
        var used = records.Where(r => r.GetProperty("outcome").GetString() == "success")
            .Sum(r => r.GetProperty("promptTokens").GetInt64() + r.GetProperty("completionTokens").GetInt64());
        Assert.InRange(used, 1, Tpm);
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_deployment_that_cannot_be_reached_is_failed_over_before_the_first_byte(string door)
    {
        var (keyId, client) = await NewKeyAsync(new { name = "failover" });

        using var response = await client.PostAsync(door, Json.AtDoor(door, "failover"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var admin = fixture.Admin();
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.StartsWith("backup", record.GetProperty("deployment").GetString());
        Assert.Equal("success", record.GetProperty("outcome").GetString());
    }
}
