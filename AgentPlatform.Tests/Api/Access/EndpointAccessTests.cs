using AgentPlatform.Api;
using AgentPlatform.Api.Access;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Api.Access;

/// <summary>Every route of the Api names who may call it: a new endpoint cannot be added open by forgetting to.</summary>
[Collection(PlatformCollection.Name)]
public sealed class EndpointAccessTests(PlatformFixture platform) : IAsyncLifetime
{
    private TestRedis _redis = null!;

    public async Task InitializeAsync() => _redis = await TestRedis.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task Client_routes_require_a_virtual_key_and_admin_routes_the_master_key()
    {
        await using var api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(_redis, platform.Router.BaseAddress)).Start();

        var routes = api.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => (Path: "/" + e.RoutePattern.RawText!.TrimStart('/'), Policy: e.Metadata.GetOrderedMetadata<IAuthorizeData>().SingleOrDefault()?.Policy,
                Anonymous: e.Metadata.GetMetadata<IAllowAnonymous>() is not null))
            .ToList();

        Assert.Contains(routes, r => r.Path == "/v1/chat/completions");
        Assert.All(routes.Where(r => r.Path.StartsWith("/admin/", StringComparison.Ordinal)), r => Assert.Equal(AccessPolicies.Admin, r.Policy));
        // Under /v1 only the unknown-route answer is open (it says the same to anyone).
        Assert.All(routes.Where(r => r.Path.StartsWith("/v1/", StringComparison.Ordinal) && !r.Anonymous), r => Assert.Equal(AccessPolicies.Client, r.Policy));
        Assert.Equal(["/v1/{*path:nonfile}"], routes.Where(r => r.Anonymous).Select(r => r.Path));
    }
}
