using AgentPlatform.ServiceDefaults.RequestIds;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

public static class RequestIdServiceCollectionExtensions
{
    /// <summary>Puts the request id middleware first in every pipeline, before any endpoint can log.</summary>
    public static IServiceCollection AddRequestIds(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, RequestIdStartupFilter>());
        return services;
    }

    private sealed class RequestIdStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseMiddleware<RequestIdMiddleware>();
            next(app);
        };
    }
}
