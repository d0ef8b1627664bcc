using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Aspire.Hosting.ApplicationModel;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.EndToEnd;

/// <summary>The response cache's single flight across real Api processes, started by the AppHost.</summary>
[Collection(AppHostCollection.Name)]
public sealed class ResponseCacheEndToEndTests(AppHostFixture platform)
{
    [Fact]
    public async Task Two_hundred_identical_requests_through_two_api_processes_reach_the_simulators_once()
    {
        var model = platform.App.Services.GetRequiredService<DistributedApplicationModel>();
        Assert.Equal(2, model.Resources.Single(r => r.Name == "api").Annotations.OfType<ReplicaAnnotation>().Single().Replicas);
        using var client = new HttpClient { BaseAddress = platform.ApiBaseAddress, Timeout = AppHostFixture.DefaultTimeout };
        client.DefaultRequestHeaders.Authorization = new("Bearer", platform.ClientKey);
        var body = $$"""{"model":"{{AppHostFixture.CachedModel}}","messages":[{"role":"user","content":"Once for everyone {{Guid.NewGuid():N}}"}]}""";
        var before = await SimulatorRequestsAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Body(body));
            var json = await Json.ReadAsync(response);
            return (response.StatusCode, Cache: response.Headers.GetValues("x-agentplatform-cache").Single(),
                Content: json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        }));

        Assert.Equal(1, await SimulatorRequestsAsync() - before);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Single(answers.Select(a => a.Content).Distinct());
        Assert.Equal(1, answers.Count(a => a.Cache == "miss"));
    }

    /// <summary>Chat completions both simulators have received so far.</summary>
    private async Task<int> SimulatorRequestsAsync()
    {
        var total = 0;
        foreach (var simulator in new[] { "sim-a", "sim-b" })
        {
            using var client = new HttpClient { BaseAddress = platform.App.GetEndpoint(simulator, "http") };
            total += (await client.GetFromJsonAsync<JsonElement>("/sim/stats")).GetProperty("requests").GetInt32();
        }
        return total;
    }
}
