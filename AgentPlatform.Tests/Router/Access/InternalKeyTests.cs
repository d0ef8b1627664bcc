using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Api;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Router.Access;

/// <summary>
/// The Router spends provider keys with no tenant, limit, budget or record of its own: it answers only
/// callers that present the internal key, as the Api does on every call.
/// </summary>
[Collection(PlatformCollection.Name)]
public sealed class InternalKeyTests(PlatformFixture platform)
{
    public static TheoryData<string, string> RouterEndpoints => new()
    {
        { "POST", "/v1/chat/completions" },
        { "GET", "/v1/models" },
        { "GET", "/v1/model-groups/prices" },
        { "GET", "/admin/v1/deployments" },
        { "POST", "/admin/v1/deployments/dead/nobody/drain" },
        { "DELETE", "/admin/v1/deployments/dead/nobody/drain" },
    };

    [Theory]
    [MemberData(nameof(RouterEndpoints))]
    public async Task Every_router_endpoint_answers_401_in_OpenAI_shape_without_the_internal_key(string method, string path)
    {
        foreach (var credential in new[] { null, "wrong-internal-key-0123456789", PlatformFixture.MasterKey, TestKeys.Metrics, TestKeys.Internal + "x" })
        {
            using var client = new HttpClient { BaseAddress = platform.Router.BaseAddress };
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (credential is not null)
            {
                request.Headers.Authorization = new("Bearer", credential);
            }
            if (method == "POST")
            {
                request.Content = Json.Chat();
            }

            using var response = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
            Assert.Equal("authentication_error", error.GetProperty("type").GetString());
            Assert.Equal("invalid_internal_key", error.GetProperty("code").GetString());
            Assert.Contains("AgentPlatform:InternalKey", error.GetProperty("message").GetString());
        }
        // Nothing was drained by the refused calls.
        using var trusted = platform.Router.CreateHttpClient();
        var deployments = await trusted.GetFromJsonAsync<JsonElement>("/admin/v1/deployments");
        var dead = Assert.Single(deployments.GetProperty("data").EnumerateArray(), d => d.GetProperty("name").GetString() == "nobody");
        Assert.Equal(JsonValueKind.Null, dead.GetProperty("drained").ValueKind);
    }

    [Fact]
    public async Task With_the_internal_key_the_router_answers_and_the_apis_calls_carry_it()
    {
        using var router = new HttpClient { BaseAddress = platform.Router.BaseAddress };
        router.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Internal);
        using var models = await router.GetAsync("/v1/models");
        using var chat = await router.PostAsync("/v1/chat/completions", Json.Chat());
        using var viaApi = await platform.CreateApiClient().PostAsync("/v1/chat/completions", Json.Chat());

        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Equal(HttpStatusCode.OK, viaApi.StatusCode);
    }

    [Fact]
    public async Task The_probes_answer_without_a_credential()
    {
        using var client = new HttpClient { BaseAddress = platform.Router.BaseAddress };

        using var alive = await client.GetAsync("/alive");
        using var health = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task A_refused_call_is_logged_with_its_request_id_but_never_the_credential_it_sent()
    {
        const string someonesKey = "sk-live-someone-elses-real-key-4242";
        var requestId = $"refused-{Guid.NewGuid():N}";
        using var client = new HttpClient { BaseAddress = platform.Router.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", someonesKey);
        client.DefaultRequestHeaders.Add("x-request-id", requestId);

        using var response = await client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var refusal = Assert.Single(platform.RouterLogs.Logs, log => log.EventId.Id == 1040 && Equals(log.Scope.GetValueOrDefault("RequestId"), requestId));
        Assert.Contains("/v1/models", refusal.Message);
        Assert.DoesNotContain(platform.RouterLogs.Logs, log => log.Message.Contains(someonesKey, StringComparison.Ordinal)
            || log.Scope.Values.Any(value => value?.ToString()?.Contains(someonesKey, StringComparison.Ordinal) == true));
    }

    [Fact]
    public async Task A_refused_path_cannot_forge_a_log_line()
    {
        var requestId = $"forged-{Guid.NewGuid():N}";
        using var client = new HttpClient { BaseAddress = platform.Router.BaseAddress };
        client.DefaultRequestHeaders.Add("x-request-id", requestId);

        using var response = await client.GetAsync("/v1/x%0D%0Ainfo:%20forged%20line");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var refusal = Assert.Single(platform.RouterLogs.Logs, log => log.EventId.Id == 1040 && Equals(log.Scope.GetValueOrDefault("RequestId"), requestId));
        Assert.DoesNotContain('\n', refusal.Message);
        Assert.DoesNotContain('\r', refusal.Message);
        Assert.Contains("\\u000d\\u000ainfo: forged line", refusal.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("too-short")]
    public void A_router_without_a_valid_internal_key_refuses_to_start_naming_the_key(string internalKey)
    {
        using var router = new KestrelApp<RouterOptions>(new Dictionary<string, string?>(platform.SimulatorGroup("unstarted"))
        {
            ["ConnectionStrings:cache"] = platform.Redis.ConnectionString,
            ["AgentPlatform:InternalKey"] = internalKey,
        });

        var failure = Assert.ThrowsAny<Exception>(() => router.Start());

        Assert.Contains("AgentPlatform:InternalKey", failure.ToString());
    }

    [Fact]
    public void An_api_without_the_internal_key_refuses_to_start_naming_the_key()
    {
        using var api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(platform.Redis, platform.Router.BaseAddress,
            new Dictionary<string, string?> { ["AgentPlatform:InternalKey"] = "" }));

        var failure = Assert.ThrowsAny<Exception>(() => api.Start());

        Assert.Contains("AgentPlatform:InternalKey", failure.ToString());
    }
}
