using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Router.Forwarding;

[Collection(PlatformCollection.Name)]
public sealed class ChatForwarderTests(PlatformFixture platform)
{
    [Fact]
    public async Task Only_the_model_field_is_rewritten_and_unknown_fields_pass_byte_for_byte()
    {
        using var client = platform.CreateApiClient();
        const string Body = """{ "model" : "recorded", "messages":[{"role":"user","content":"h\u00e9llo \"q\""}], "x_vendor": {"deep": [1, 2.50, null]}, "tools":[{"type":"function","function":{"name":"f"}}] }""";

        using var response = await client.PostAsync("/v1/chat/completions", Json.Body(Body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (sent, headers) = platform.Recorder.Requests.Last();
        var expected = Body.Replace("\"recorded\"", "\"upstream-model \\\"quoted\\\"\"", StringComparison.Ordinal);
        Assert.Equal(expected, Encoding.UTF8.GetString(sent));
        Assert.Equal("Bearer sk-provider-secret", headers.Authorization.ToString());
        Assert.Equal("recorder", response.Headers.GetValues("x-agentplatform-deployment").Single());
        Assert.Equal("1", response.Headers.GetValues("x-agentplatform-attempts").Single());
        Assert.False(response.Headers.Contains("x-agentplatform-price-per-million")); // the Api's business, not the client's
    }

    [Fact]
    public async Task A_stream_that_did_not_ask_for_usage_asks_the_provider_for_it_as_its_first_field()
    {
        using var client = platform.CreateApiClient();
        const string Body = """ {"model":"recorded","stream":true,"messages":[{"role":"user","content":"hi"}]}""";

        using var response = await client.PostAsync("/v1/chat/completions", Json.Body(Body));

        var (sent, _) = platform.Recorder.Requests.Last();
        Assert.Equal(""" {"stream_options":{"include_usage":true},"model":"upstream-model \"quoted\"","stream":true,"messages":[{"role":"user","content":"hi"}]}""",
            Encoding.UTF8.GetString(sent));
    }

    [Fact]
    public async Task Trace_context_flows_from_the_api_to_the_provider()
    {
        using var client = platform.CreateApiClient();

        using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "recorded"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (_, headers) = platform.Recorder.Requests.Last();
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", headers["traceparent"].ToString());
    }

    [Fact]
    public async Task A_failing_deployment_is_skipped_and_the_router_logs_it_with_the_request_id()
    {
        using var client = platform.CreateApiClient();
        using var simA = platform.SimA.CreateHttpClient();
        using var simB = platform.SimB.CreateHttpClient();
        await simA.PostAsJsonAsync("/sim/faults", new { kind = "500", rate = 1.0 });
        await simA.PostAsync("/sim/stats/reset", null);
        await simB.PostAsync("/sim/stats/reset", null);
        try
        {
            var requestIds = new List<string>();
            for (var i = 0; i < 12; i++)
            {
                using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: PlatformFixture.SkippingGroup, extra: $",\"seed\":{i}"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("sim-b", response.Headers.GetValues("x-agentplatform-deployment").Single());
                requestIds.Add(response.Headers.GetValues("x-request-id").Single());
            }

            var statsA = await simA.GetFromJsonAsync<JsonElement>("/sim/stats");
            var statsB = await simB.GetFromJsonAsync<JsonElement>("/sim/stats");
            Assert.True(statsA.GetProperty("requests").GetInt64() > 0, "weighted picking never chose sim-a in 12 tries");
            Assert.Equal(12, statsB.GetProperty("completed").GetInt64());
            var refusals = platform.RouterLogs.Logs.Where(l => l.EventId.Id == 1001).ToList();
            Assert.NotEmpty(refusals);
            Assert.All(refusals.Where(r => requestIds.Contains((string)r.Scope["RequestId"]!)), r => Assert.Contains("sim-a", r.Message));
            Assert.Contains(refusals, r => requestIds.Contains((string)r.Scope["RequestId"]!));
        }
        finally
        {
            await simA.DeleteAsync("/sim/faults");
        }
    }

    [Fact]
    public async Task Every_deployment_refusing_returns_the_last_refusal()
    {
        using var client = platform.CreateApiClient();
        using var simA = platform.SimA.CreateHttpClient();
        using var simB = platform.SimB.CreateHttpClient();
        await simA.PostAsJsonAsync("/sim/faults", new { kind = "429", rate = 1.0 });
        await simB.PostAsJsonAsync("/sim/faults", new { kind = "429", rate = 1.0 });
        try
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat());

            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal("1", response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString());
            await Json.ReadErrorAsync(response);
        }
        finally
        {
            await simA.DeleteAsync("/sim/faults");
            await simB.DeleteAsync("/sim/faults");
        }
    }

    [Fact]
    public async Task A_stream_cut_short_upstream_ends_with_an_error_event_not_a_clean_done()
    {
        using var client = platform.CreateApiClient();
        using var simA = platform.SimA.CreateHttpClient();
        using var simB = platform.SimB.CreateHttpClient();
        await simA.PostAsJsonAsync("/sim/faults", new { kind = "reset-mid", rate = 1.0 });
        await simB.PostAsJsonAsync("/sim/faults", new { kind = "reset-mid", rate = 1.0 });
        try
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(stream: true));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var events = await Json.ReadEventsAsync(response);
            Assert.DoesNotContain("[DONE]", events);
            var error = JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
            Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
            Assert.Contains("broke off", error.GetProperty("message").GetString());
            Assert.Contains(platform.RouterLogs.Logs, l => l.EventId.Id == 1004);
        }
        finally
        {
            await simA.DeleteAsync("/sim/faults");
            await simB.DeleteAsync("/sim/faults");
        }
    }

    [Fact]
    public async Task A_higher_priority_deployment_answers_when_the_primary_is_down()
    {
        using var client = platform.CreateApiClient();

        using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "tiered"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backup", response.Headers.GetValues("x-agentplatform-deployment").Single());
    }
}
