using AgentPlatform.Web.Platform;
using AgentPlatform.Web.SignIn;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.FluentUI.AspNetCore.Components;

namespace Microsoft.Extensions.Hosting;

public static class WebServiceCollectionExtensions
{
    public static IHostApplicationBuilder AddWebServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddConsoleSignIn();
        builder.Services.AddFluentUIComponents();
        // Bound with its change token: rotating AdminCredential must end the sessions signed in with the old one.
        builder.Services.AddOptionsWithValidateOnStart<ConsoleOptions>().BindConfiguration(ConsoleOptions.SectionName).ValidateDataAnnotations();

        // "http://api" is resolved by service discovery: services:api:http:0 in configuration.
        builder.Services.AddHttpClient(PlatformApiClient.HttpClientName, client => client.BaseAddress = new Uri("http://api"));
        builder.Services.AddHttpClient(PlatformApiClient.StreamingHttpClientName, client => client.BaseAddress = new Uri("http://api"))
            .AsCompletionClient();
        builder.Services.TryAddScoped<PlatformApiClient>();
        builder.Services.TryAddScoped<AdminApiClient>();
        builder.Services.TryAddSingleton<ConsoleClientKey>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        return builder;
    }
}
